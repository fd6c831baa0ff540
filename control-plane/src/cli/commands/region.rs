//! `region list|create|delete`.

use serde_json::{json, Value};

use super::Invocation;
use crate::cli::args::RegionCmd;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::Table;
use crate::cli::view::{field, items};

pub async fn run(inv: &Invocation, cmd: RegionCmd) -> Result<(), CliError> {
    match cmd {
        RegionCmd::List => {
            let answer = inv.send(Call::get(&["v1", "regions"])).await?;
            inv.show(&answer, render_regions);
        }
        RegionCmd::Create { name, description } => {
            let mut body = json!({ "name": name });
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            let answer = inv.send(Call::post(&["v1", "regions"], body)).await?;
            inv.done(&answer, &format!("region {name} created"));
        }
        RegionCmd::Delete { name } => {
            let answer = inv.send(Call::delete(&["v1", "regions", &name])).await?;
            inv.done(&answer, &format!("region {name} deleted"));
        }
    }
    Ok(())
}

pub fn render_regions(answer: &Value) -> String {
    let mut t = Table::new(&["NAME", "DESCRIPTION", "CREATED", "CHANGED"]);
    for r in items(answer) {
        t.row(vec![
            field(r, "name"),
            field(r, "description"),
            field(r, "created_version"),
            field(r, "changed_version"),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_print_one_row_each() {
        let answer = json!({"version": 5, "items": [
            {"name": "tokyo", "description": "Tokyo", "created_version": 1, "changed_version": 1},
            {"name": "osaka", "created_version": 2, "changed_version": 2},
        ]});
        assert_eq!(
            render_regions(&answer),
            "NAME   DESCRIPTION  CREATED  CHANGED\n\
             tokyo  Tokyo        1        1\n\
             osaka  -            2        2\n"
        );
    }
}
