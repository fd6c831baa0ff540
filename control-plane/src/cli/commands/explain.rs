//! `explain TENANT HOST[:PORT]`.

use serde_json::Value;

use super::Invocation;
use crate::cli::args::ExplainArgs;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::fields;
use crate::cli::view::{field, get};

pub async fn run(inv: &Invocation, args: ExplainArgs) -> Result<(), CliError> {
    let (host, port) = split_destination(&args.destination)?;
    let call = Call::get(&["v1", "tenants", &args.tenant, "explain"])
        .query("host", Some(host))
        .query("port", port);
    let answer = inv.send(call).await?;
    inv.show(&answer, render_explain);
    Ok(())
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 literal (no port).
pub fn split_destination(dest: &str) -> Result<(String, Option<u16>), CliError> {
    let bad_port = |p: &str| {
        CliError::Usage(format!(
            "{dest:?}: port {p:?} is not a number 0-65535 (write HOST or HOST:PORT)"
        ))
    };
    if let Some(rest) = dest.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| CliError::Usage(format!("{dest:?}: missing ']'")))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad_port(p))?),
            None if after.is_empty() => None,
            None => return Err(CliError::Usage(format!("{dest:?}: junk after ']'"))),
        };
        return Ok((addr.to_string(), port));
    }
    match dest.rsplit_once(':') {
        // More than one ':' is an IPv6 literal without a port.
        Some((host, _)) if host.contains(':') => Ok((dest.to_string(), None)),
        Some((host, p)) => Ok((host.to_string(), Some(p.parse().map_err(|_| bad_port(p))?))),
        None => Ok((dest.to_string(), None)),
    }
}

/// The decision first, then what made it.
pub fn render_explain(a: &Value) -> String {
    if get(a, "served") == &Value::Bool(false) {
        return fields(&[
            ("decision", "refused (the tenant is not served)".into()),
            ("region", field(a, "region")),
            ("why", field(a, "not_served")),
            ("version", field(a, "version")),
        ]);
    }
    let guard = get(a, "guard");
    let mut pairs = vec![
        ("decision", field(a, "decision")),
        ("reason", field(a, "reason")),
        (
            "destination",
            format!("{}:{}", field(a, "host"), field(a, "port")),
        ),
        ("rule", field(a, "rule_label")),
        ("list", field(a, "list")),
        ("entry", field(a, "entry")),
    ];
    if !get(a, "parent_proxy").is_null() {
        pairs.push(("parent proxy", field(a, "parent_proxy")));
    }
    pairs.push(("guard", field(guard, "status")));
    if !get(guard, "note").is_null() {
        pairs.push(("guard note", field(guard, "note")));
    }
    pairs.push(("region", field(a, "region")));
    pairs.push(("version", field(a, "version")));
    pairs.push(("summary", field(a, "summary")));
    fields(&pairs)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn destinations_split_into_host_and_port() {
        let ok = |d: &str| split_destination(d).ok();
        assert_eq!(ok("example.com"), Some(("example.com".into(), None)));
        assert_eq!(
            ok("example.com:8080"),
            Some(("example.com".into(), Some(8080)))
        );
        assert_eq!(
            ok("[2001:db8::1]:443"),
            Some(("2001:db8::1".into(), Some(443)))
        );
        assert_eq!(ok("[2001:db8::1]"), Some(("2001:db8::1".into(), None)));
        assert_eq!(ok("2001:db8::1"), Some(("2001:db8::1".into(), None)));
        assert!(split_destination("example.com:http").is_err());
        assert!(split_destination("example.com:70000").is_err());
        assert!(split_destination("[::1").is_err());
    }

    #[test]
    fn renders_the_decision_then_the_match() {
        let a = json!({"version": 9, "region": "tokyo", "served": true, "tenant": "acme",
            "decision": "refused", "reason": "destination_ip_prohibited", "host": "127.0.0.1",
            "port": 443, "action": "direct", "rule": null, "rule_label": "default",
            "list": null, "entry": null, "guard": {"status": "refused", "note": "loopback"},
            "summary": "direct by rule default, but the destination guard refuses it"});
        let text = render_explain(&a);
        assert!(text.starts_with("decision:"), "{text}");
        assert!(text.contains("destination_ip_prohibited"), "{text}");
        assert!(text.contains("127.0.0.1:443"), "{text}");
        assert!(text.contains("guard note:"), "{text}");
        let not = json!({"version": 9, "region": "tokyo", "served": false,
            "not_served": "art. 6-1: no contract"});
        assert!(render_explain(&not).contains("art. 6-1"));
    }
}
