//! `store export` / `store import [--replace]`: the whole state as a JSON dump on stdout, and
//! back (operator; docs/operations.md, "Moving between Raft and etcd").

use std::io::Read;

use serde_json::Value;

use super::Invocation;
use crate::cli::args::StoreCmd;
use crate::cli::client::Call;
use crate::cli::error::CliError;

pub async fn run(inv: &Invocation, cmd: StoreCmd) -> Result<(), CliError> {
    match cmd {
        StoreCmd::Export => {
            let dump = inv.send(Call::get(&["v1", "store", "export"])).await?;
            // Always the JSON dump, whatever -o says: it is meant for `store import`.
            println!("{dump}");
            Ok(())
        }
        StoreCmd::Import { replace, file } => {
            let text = match file {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| CliError::Usage(format!("reading {}: {e}", path.display())))?,
                None => {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .map_err(|e| CliError::Usage(format!("reading stdin: {e}")))?;
                    s
                }
            };
            let dump: Value = serde_json::from_str(&text)
                .map_err(|e| CliError::Usage(format!("the dump is not JSON: {e}")))?;
            let call = Call::post(&["v1", "store", "import"], dump)
                .query("replace", replace.then_some(true));
            let answer = inv.send(call).await?;
            inv.show(&answer, |a| {
                format!(
                    "imported the dump of version {} as version {}\n",
                    a["imported_from"], a["version"]
                )
            });
            Ok(())
        }
    }
}
