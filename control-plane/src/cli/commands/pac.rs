//! `pac set|clear|show`: a tenant's PAC settings, a preview of the file its edges serve, and
//! (`show --diff`) how a preview differs from the live file.

use std::collections::BTreeMap;
use std::path::Path;

use breakout_policy::pac::{render_for_edge, Pac, PacSettings};
use breakout_policy::Tenant;
use serde_json::Value;

use super::{read_json, Invocation};
use crate::cli::args::PacCmd;
use crate::cli::client::{Call, TIMEOUT};
use crate::cli::error::CliError;
use crate::cli::view::{changed_version, tenant};
use crate::pac_diff::{self as diff, Side};

pub async fn run(inv: &Invocation, cmd: PacCmd) -> Result<(), CliError> {
    match cmd {
        PacCmd::Set { tenant, file } => {
            let body = read_json(&file)?;
            let answer = inv
                .send(Call::put(&["v1", "tenants", &tenant, "pac"], body))
                .await?;
            inv.done(&answer, &format!("PAC settings of tenant {tenant} set"));
        }
        PacCmd::Clear { tenant } => {
            let answer = inv
                .send(Call::put(&["v1", "tenants", &tenant, "pac"], Value::Null))
                .await?;
            inv.done(&answer, &format!("PAC settings of tenant {tenant} removed"));
        }
        PacCmd::Show {
            tenant: id,
            edge,
            settings,
            diff,
        } => {
            let edge = edge.as_deref().map(EdgeAddr::parse).transpose()?;
            let own = edge.as_ref().map(|e| e.host_port.as_str());
            let view = inv.send(Call::get(&["v1", "tenants", &id])).await?;
            let version = changed_version(&view).unwrap_or(0);
            let proposed = match &settings {
                Some(file) => Some(with_settings(&view, read_json(file)?, file)?),
                None => None,
            };
            let pac = preview(proposed.as_ref().unwrap_or(&view), own)?;
            if !diff {
                // -o json|yaml: the file with what identifies it; the table form is the file.
                let answer = serde_json::json!({
                    "tenant": id, "policy_version": pac.policy_version,
                    "sha256": pac.sha256, "body_sha256": pac.body_sha256, "text": pac.text,
                });
                inv.show(&answer, |_| pac.text.clone());
                return Ok(());
            }
            let (live_label, live_text) = match &edge {
                Some(e) => {
                    let url = e.pac_url(&id);
                    let text = fetch_live(&url, &id).await?;
                    (format!("edge {url}"), text)
                }
                None => committed(&view, own)?,
            };
            let preview_label = match &settings {
                Some(f) => format!("preview of {} (tenant version {version})", f.display()),
                None => format!("preview of the stored settings (tenant version {version})"),
            };
            let live = Side {
                label: &live_label,
                text: &live_text,
            };
            let new = Side {
                label: &preview_label,
                text: &pac.text,
            };
            return report(inv, &id, &live, &new);
        }
    }
    Ok(())
}

/// Prints the diff (or that there is none; with -o json|yaml, the comparison as data); a
/// difference ends the command with exit code 1.
fn report(inv: &Invocation, id: &str, live: &Side<'_>, preview: &Side<'_>) -> Result<(), CliError> {
    let found = diff::compare(live, preview);
    let answer = serde_json::json!({
        "tenant": id, "live": live.label, "preview": preview.label,
        "differs": found.is_some(),
        "added": found.as_ref().map_or(0, |d| d.added),
        "removed": found.as_ref().map_or(0, |d| d.removed),
        "unified": found.as_ref().map(|d| d.unified.clone()),
    });
    match found {
        None => {
            inv.show(&answer, |_| {
                format!(
                    "tenant {id}: no difference: the {} routes exactly like the {} \
                     (the files are identical below the header)\n",
                    preview.label, live.label
                )
            });
            Ok(())
        }
        Some(d) => {
            inv.show(&answer, |_| d.unified.clone());
            Err(CliError::Differs(format!(
                "tenant {id}: the {} differs from the {} (lines: +{} -{})",
                preview.label, live.label, d.added, d.removed
            )))
        }
    }
}

/// Where `--edge` points: `host:port`, with or without `http://` (the edge serves PAC files
/// in plain HTTP on its proxy listener).
#[derive(Debug, PartialEq, Eq)]
pub struct EdgeAddr {
    pub host_port: String,
}

impl EdgeAddr {
    pub fn parse(s: &str) -> Result<EdgeAddr, CliError> {
        let bad = |why: &str| CliError::Usage(format!("--edge {s:?}: {why}"));
        let rest = match s.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some(_) => return Err(bad("the edge serves PAC files over http:// only")),
            None => s,
        };
        let host_port = rest.strip_suffix('/').unwrap_or(rest);
        let port_ok = host_port
            .rsplit_once(':')
            .filter(|(host, _)| !host.is_empty())
            .and_then(|(_, port)| port.parse::<u16>().ok())
            .is_some_and(|p| p != 0);
        if !port_ok || host_port.contains(['/', '@', '?', '#', ' ']) {
            return Err(bad("expected HOST:PORT or http://HOST:PORT"));
        }
        Ok(EdgeAddr {
            host_port: host_port.to_ascii_lowercase(),
        })
    }

    /// `http://host:port/pac/{tenant}.pac`.
    pub fn pac_url(&self, tenant: &str) -> String {
        format!("http://{}/pac/{tenant}.pac", self.host_port)
    }
}

/// The PAC an edge serves now, fetched as a browser would (no proxy, no compression). The edge
/// answers only the tenant's registered sources, so its refusals say so.
async fn fetch_live(url: &str, tenant: &str) -> Result<String, CliError> {
    let http = crate::http_client::builder()
        .timeout(TIMEOUT)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CliError::Other(format!("cannot set up the HTTP client: {e}")))?;
    let resp = http.get(url).send().await.map_err(|e| CliError::Connect {
        server: url.to_string(),
        reason: e.to_string(),
    })?;
    let status = resp.status().as_u16();
    let why = match status {
        200 => {
            return resp.text().await.map_err(|e| CliError::Connect {
                server: url.to_string(),
                reason: format!("reading the PAC file: {e}"),
            })
        }
        403 | 404 => format!(
            "the edge serves tenant {tenant}'s PAC only to the tenant's registered sources: \
             run this from one of them (and check that the edge has the tenant's PAC settings)"
        ),
        503 => "the edge could not render the tenant's PAC; its log says why".to_string(),
        _ => "unexpected answer".to_string(),
    };
    Err(CliError::Other(format!("{url} answered {status}: {why}")))
}

/// `view` with the tenant's `pac` replaced by the settings in `file`, checked as settings first
/// so that a mistake in the file is reported as one.
fn with_settings(view: &Value, settings: Value, file: &Path) -> Result<Value, CliError> {
    serde_json::from_value::<PacSettings>(settings.clone()).map_err(|e| {
        CliError::Usage(format!(
            "{} is not valid PAC settings: {e} (docs/pac.md)",
            file.display()
        ))
    })?;
    let mut view = view.clone();
    let t = match view.get("tenant").is_some_and(Value::is_object) {
        true => &mut view["tenant"],
        false => &mut view,
    };
    t["pac"] = settings;
    Ok(view)
}

/// The "live" side without an edge: the PAC the stored settings give (empty without any).
fn committed(view: &Value, own: Option<&str>) -> Result<(String, String), CliError> {
    let version = changed_version(view).unwrap_or(0);
    if tenant(view).get("pac").is_none_or(Value::is_null) {
        return Ok(("store (no PAC settings stored)".to_string(), String::new()));
    }
    let pac = preview(view, own)?;
    let label = format!("stored settings (tenant version {version})");
    Ok((label, pac.text))
}

/// Renders the PAC of the tenant in `view` (a `GET /v1/tenants/{id}` answer) with the same call
/// the edges make ([`render_for_edge`]). The store has no shared lists, so none are passed. The
/// header's version is the tenant's `changed_version`; an edge writes the configuration version
/// it runs, so only the header line and `sha256` can differ (`body_sha256` is the same).
pub fn preview(view: &Value, edge: Option<&str>) -> Result<Pac, CliError> {
    let mut t = tenant(view).clone();
    let version = changed_version(view).unwrap_or(0);
    if let Some(obj) = t.as_object_mut() {
        for extra in [
            "effective",
            "session_cap",
            "session_limit_in_force",
            "ops_contact",
            "notify_business_days",
            "created_version",
            "changed_version",
        ] {
            obj.remove(extra);
        }
    }
    let t: Tenant = serde_json::from_value(t)
        .map_err(|e| CliError::Other(format!("the server's tenant does not parse: {e}")))?;
    // The stored state, not the command line, is missing something: exit 1 as the help says
    // for a refusal, not 2 (usage).
    let settings = t.pac.as_ref().ok_or_else(|| {
        CliError::Other(format!(
            "tenant {id} has no PAC settings (fix: breakoutctl pac set {id} --file FILE)",
            id = t.id
        ))
    })?;
    if settings.proxies.is_empty() && edge.is_none() {
        return Err(CliError::Usage(format!(
            "tenant {}'s PAC settings name no proxies, so each edge writes its own address; \
             pass --edge HOST:PORT to preview one",
            t.id
        )));
    }
    let edge = edge.unwrap_or_default();
    match render_for_edge(&t, &BTreeMap::new(), version, edge) {
        Some(result) => result.map_err(|e| CliError::Other(format!("tenant {}: {e}", t.id))),
        None => unreachable!("settings checked above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(pac: Value) -> Value {
        json!({
            "id": "acme", "region": "tokyo", "source_cidrs": ["10.0.0.0/8"],
            "session_limit": 10, "default_action": "direct",
            "rules": [{"action": "block", "destinations": ["*.blocked.example"]}],
            "pac": pac,
            "effective": {"in_service": true}, "created_version": 3, "changed_version": 7,
            // Every other field of the tenant view, which the preview leaves out.
            "session_cap": 40, "ops_contact": "ops@acme.example", "notify_business_days": true,
            "session_limit_in_force": {"sessions": 40, "contracted": 20000, "by": "session_cap"},
        })
    }

    #[test]
    fn preview_renders_like_the_edge() {
        let pac = preview(&view(json!({"proxies": ["edge.example:3128"]})), None).expect("pac");
        assert!(pac.text.contains("policy version 7"), "{}", pac.text);
        assert!(pac.text.contains("PROXY edge.example:3128"));
        assert_eq!(pac.tenant, "acme");
    }

    #[test]
    fn preview_without_proxies_needs_an_edge() {
        let err = preview(&view(json!({})), None).expect_err("no proxies");
        assert!(err.to_string().contains("--edge"), "{err}");
        let pac = preview(&view(json!({})), Some("192.0.2.1:3128")).expect("pac");
        assert!(pac.text.contains("PROXY 192.0.2.1:3128"));
    }

    #[test]
    fn edge_addresses_take_an_optional_http_scheme() {
        for s in [
            "127.0.0.1:3128",
            "http://127.0.0.1:3128",
            "HTTP://127.0.0.1:3128/",
        ] {
            let e = EdgeAddr::parse(s).expect(s);
            assert_eq!(e.host_port, "127.0.0.1:3128");
            assert_eq!(e.pac_url("acme"), "http://127.0.0.1:3128/pac/acme.pac");
        }
        let e = EdgeAddr::parse("http://[::1]:3128").expect("ipv6");
        assert_eq!(e.host_port, "[::1]:3128");
        for bad in [
            "https://e:3128",
            "e",
            "e:0",
            ":3128",
            "http://e:3128/pac/acme.pac",
            "u@e:3128",
        ] {
            let err = EdgeAddr::parse(bad).expect_err(bad);
            assert_eq!(err.exit_code(), 2, "{bad}: {err}");
        }
    }

    #[test]
    fn proposed_settings_replace_the_stored_ones_in_the_preview() {
        let stored = view(json!({"proxies": ["edge.example:3128"]}));
        let file = Path::new("new.json");
        let proposed = with_settings(
            &stored,
            json!({"proxies": ["edge-2.example:3128"], "direct_exceptions": ["*.corp.example"]}),
            file,
        )
        .expect("settings");
        let pac = preview(&proposed, None).expect("pac");
        assert!(
            pac.text.contains("PROXY edge-2.example:3128"),
            "{}",
            pac.text
        );
        assert!(pac.text.contains(".corp.example"));
        let err = with_settings(&stored, json!({"proxy": []}), file).expect_err("typo");
        assert!(
            err.to_string()
                .starts_with("new.json is not valid PAC settings"),
            "{err}"
        );
        // A view that nests the tenant (`{"tenant": {…}, …}`) gets the settings in the tenant.
        let nested = json!({"tenant": stored.clone(), "changed_version": 7});
        let proposed =
            with_settings(&nested, json!({"proxies": ["x.example:1"]}), file).expect("settings");
        assert_eq!(proposed["tenant"]["pac"]["proxies"][0], "x.example:1");
    }

    #[test]
    fn diff_against_the_store_reports_changes_with_exit_code_1() {
        let stored = view(json!({"proxies": ["edge.example:3128"]}));
        let (label, live) = committed(&stored, None).expect("stored pac");
        assert_eq!(label, "stored settings (tenant version 7)");
        let same = preview(&stored, None).expect("pac");
        let live_side = Side {
            label: &label,
            text: &live,
        };
        let same_side = Side {
            label: "preview",
            text: &same.text,
        };
        // -o json: the comparison as data on stdout (the test prints it), never an error.
        let inv = Invocation {
            client: crate::cli::client::Client::new("http://127.0.0.1:1", None).expect("client"),
            output: crate::cli::args::Output::Json,
        };
        report(&inv, "acme", &live_side, &same_side).expect("identical");

        let proposed = with_settings(
            &stored,
            json!({"proxies": ["edge.example:3128", "edge-2.example:3128"]}),
            Path::new("p.json"),
        )
        .expect("settings");
        let changed = preview(&proposed, None).expect("pac");
        let d = diff::compare(
            &live_side,
            &Side {
                label: "preview",
                text: &changed.text,
            },
        )
        .expect("differs");
        assert!(d
            .unified
            .starts_with("--- stored settings (tenant version 7)\n+++ preview\n"));
        assert!(
            d.unified.contains(
                "\n+var RESULTS = [\"PROXY edge.example:3128; PROXY edge-2.example:3128\""
            ),
            "{}",
            d.unified
        );
        let err = report(
            &inv,
            "acme",
            &live_side,
            &Side {
                label: "preview",
                text: &changed.text,
            },
        )
        .expect_err("differs");
        assert_eq!(err.exit_code(), 1);
        assert!(
            err.to_string().contains("differs from the stored settings"),
            "{err}"
        );

        // No stored settings: everything is new.
        let mut bare = view(json!(null));
        bare.as_object_mut().map(|o| o.remove("pac"));
        let (label, text) = committed(&bare, None).expect("nothing stored");
        assert_eq!(
            (label.as_str(), text.as_str()),
            ("store (no PAC settings stored)", "")
        );
    }

    #[test]
    fn diff_needs_an_edge_or_proposed_settings() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            crate::cli::Cli::try_parse_from(
                ["breakoutctl", "pac", "show", "acme"].iter().chain(args),
            )
        };
        assert!(parse(&["--diff"]).is_err());
        assert!(parse(&["--diff", "--edge", "http://127.0.0.1:3128"]).is_ok());
        assert!(parse(&["--diff", "--settings", "p.json"]).is_ok());
        assert!(parse(&["--settings", "p.json"]).is_ok());
        assert!(parse(&[]).is_ok());
    }

    #[test]
    fn preview_without_settings_says_so() {
        let mut v = view(json!(null));
        v.as_object_mut().map(|o| o.remove("pac"));
        let err = preview(&v, None).expect_err("no settings");
        assert!(err.to_string().contains("no PAC settings"), "{err}");
        // What is missing is in the store, not on the command line: 1, not 2 (usage).
        assert_eq!(err.exit_code(), 1, "{err}");
        assert!(
            err.to_string().contains("breakoutctl pac set acme"),
            "{err}"
        );
    }
}
