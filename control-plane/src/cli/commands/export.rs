//! `endpoints TENANT` (alias `export`): the tenant's export, its effective destinations in the format asked for, printed
//! exactly as the API answers (a file a device can load).

use super::Invocation;
use crate::cli::args::ExportArgs;
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
    print(&body);
    Ok(())
}
