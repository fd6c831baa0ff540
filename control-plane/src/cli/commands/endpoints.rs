//! `endpoints TENANT`: the tenant's effective destinations in the format asked for, printed
//! exactly as the API answers (a file a device can load).

use super::Ctx;
use crate::cli::args::EndpointsArgs;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::print;

pub async fn run(ctx: &Ctx, a: EndpointsArgs) -> Result<(), CliError> {
    let call = Call::get(&["v1", "tenants", &a.id, "endpoints"])
        .query("format", Some(&a.format))
        .query("action", a.action.as_ref())
        .query("kind", a.kind.as_ref())
        .query("since", a.since);
    let body = ctx.client.send_text(call).await?;
    print(&body);
    Ok(())
}
