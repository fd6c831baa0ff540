//! `cluster status|add-node|remove-node`.

use serde_json::{json, Value};

use super::Invocation;
use crate::cli::args::ClusterCmd;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::Table;
use crate::cli::view::{field, get, items};

pub async fn run(inv: &Invocation, cmd: ClusterCmd) -> Result<(), CliError> {
    let answer = match cmd {
        ClusterCmd::Status => inv.send(Call::get(&["v1", "cluster", "status"])).await?,
        ClusterCmd::AddNode { id, api_addr } => {
            let body = json!({ "id": id, "api_addr": api_addr });
            inv.send(Call::post(&["v1", "cluster", "nodes"], body))
                .await?
        }
        ClusterCmd::RemoveNode { id } => {
            inv.send(Call::delete(&["v1", "cluster", "nodes", &id.to_string()]))
                .await?
        }
    };
    inv.show(&answer, render_status);
    Ok(())
}

/// A header line (leader, term, last applied) and one row per node.
pub fn render_status(s: &Value) -> String {
    let mut out = format!(
        "leader: {}  term: {}  last applied: {}  (answered by node {})\n",
        field(s, "leader"),
        field(s, "term"),
        field(s, "last_applied"),
        field(s, "node_id"),
    );
    let mut t = Table::new(&["ID", "API", "RAFT", "ROLE", "MATCHED", "LAG"]);
    for n in items(get(s, "nodes")) {
        let addr = get(n, "addr");
        t.row(vec![
            field(n, "id"),
            field(addr, "api"),
            field(addr, "raft"),
            field(n, "role"),
            field(n, "matched"),
            field(n, "lag"),
        ]);
    }
    out.push_str(&t.render());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_shows_leader_line_and_node_rows() {
        let s = json!({
            "node_id": 2, "leader": 1, "term": 4, "last_log_index": 42, "last_applied": 42,
            "nodes": [
                {"id": 1, "addr": {"api": "10.0.0.1:7070", "raft": "10.0.0.1:7071"},
                 "role": "leader", "matched": 42, "lag": 0},
                {"id": 2, "addr": {"api": "10.0.0.2:7070", "raft": "10.0.0.2:7071"},
                 "role": "follower", "matched": null, "lag": null},
            ]
        });
        assert_eq!(
            render_status(&s),
            "leader: 1  term: 4  last applied: 42  (answered by node 2)\n\
             ID  API            RAFT           ROLE      MATCHED  LAG\n\
             1   10.0.0.1:7070  10.0.0.1:7071  leader    42       0\n\
             2   10.0.0.2:7070  10.0.0.2:7071  follower  -        -\n"
        );
    }
}
