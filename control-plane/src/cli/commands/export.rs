//! `endpoints TENANT` (alias `export`): the tenant's export, its effective destinations in the format asked for, printed
//! exactly as the API answers (a file a device can load).

use super::Invocation;
use crate::cli::args::{ExportArgs, Output};
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::print;

pub async fn run(inv: &Invocation, a: ExportArgs) -> Result<(), CliError> {
    let call = Call::get(&["v1", "tenants", &a.id, "endpoints"])
        .query("format", Some(&a.format))
        .query("action", a.action.as_ref())
        .query("kind", a.kind.as_ref())
        .query("since", a.since);
    let body = inv.client.send_text(call).await?;
    match (inv.output, serde_json::from_str::<serde_json::Value>(&body)) {
        // -o json|yaml: a JSON answer pretty-printed (or as YAML), like every other command's;
        // a file asked for with --format (text, squid, csv) is printed as the API answers it.
        (Output::Json | Output::Yaml, Ok(v)) => inv.show(&v, |_| String::new()),
        _ => print(&body),
    }
    Ok(())
}
