//! `/explain` says what the proxy does: the same decision, the destination guard included.

use breakout_tests::{Tenant, World, TENANT};

/// acme goes direct by default, `blocked.test` is blocked, `via-parent.test` goes to the
/// parent proxy; private destinations are refused unless `allow_private`.
fn world(allow_private: bool) -> World {
    World::start_with(move |mut c, p| {
        c.allow_private_destinations = allow_private;
        c.tenants = vec![Tenant::new(TENANT, "127.0.0.1/32", "direct")
            .upstream("corp", p.parent)
            .rule(breakout_tests::Rule::new(
                "deny",
                "block",
                &["blocked.test"],
            ))
            .rule(breakout_tests::Rule::new(
                "corp",
                "upstream:corp",
                &["via-parent.test"],
            ))];
        c.host("via-parent.test", "127.0.0.1")
    })
}

/// What the proxy did with `http://host:<origin port>/`, in explain's words.
fn proxied(w: &World, host: &str) -> (String, Option<String>) {
    let out = w.curl(&w.url_via(host, "/")).run();
    let decision = match (out.status(), out.header("x-origin"), out.header("x-parent")) {
        (200, Some("yes"), _) => "direct",
        (200, _, Some("yes")) => "upstream",
        (403, _, _) if out.proxy_status_error().as_deref() == Some("http_request_denied") => {
            "block"
        }
        (403, _, _) => "refused",
        (502, _, _) => "error",
        (s, _, _) => panic!("{host}: unexpected status {s}: {out:#?}"),
    };
    (decision.to_string(), out.proxy_status_error())
}

fn explained(w: &World, host: &str) -> serde_json::Value {
    let port = w.origin.port();
    let e = w.edge.explain(TENANT, host, &format!("&port={port}"));
    assert!(e.is_object(), "{host}: no explanation");
    e
}

#[test]
fn explain_and_the_proxy_agree_on_every_kind_of_destination() {
    for allow_private in [false, true] {
        let w = world(allow_private);
        for host in [
            "127.0.0.1",
            "origin.test",
            "blocked.test",
            "via-parent.test",
            "no-such-host.invalid",
            "169.254.169.254",
        ] {
            let e = explained(&w, host);
            // The metadata address has no server behind it: with allow_private the proxy
            // tries and times out; only the decision is compared where a connection is made.
            if host == "169.254.169.254" && allow_private {
                assert_eq!(e["decision"], "direct", "{e}");
                continue;
            }
            let (decision, _) = proxied(&w, host);
            assert_eq!(
                e["decision"], decision,
                "allow_private={allow_private} {host}: explain {e} but the proxy said {decision}"
            );
        }
    }
}

#[test]
fn explain_gives_the_guards_verdict_on_the_resolved_addresses() {
    let w = world(false);
    let e = explained(&w, "origin.test");
    assert_eq!(e["action"], "direct", "{e}");
    assert_eq!(e["decision"], "refused", "{e}");
    assert_eq!(e["reason"], "destination_ip_prohibited", "{e}");
    assert_eq!(e["guard"]["checks"], "destination", "{e}");
    assert_eq!(e["guard"]["addresses"][0]["address"], "127.0.0.1", "{e}");
    assert_eq!(e["guard"]["addresses"][0]["class"], "loopback", "{e}");
    let note = e["guard"]["note"].as_str().unwrap_or_default();
    assert!(note.contains("allow_private_destinations"), "{e}");

    let unresolved = w.edge.explain(TENANT, "origin.test", "&resolve=false");
    assert_eq!(
        unresolved["guard"]["status"], "after_resolution",
        "{unresolved}"
    );

    let parent = explained(&w, "via-parent.test");
    assert_eq!(parent["guard"]["checks"], "parent_proxy", "{parent}");
    assert_eq!(
        parent["decision"], "refused",
        "a parent on loopback: {parent}"
    );
}

#[test]
fn the_403_for_a_private_destination_says_how_a_lab_allows_it() {
    let w = world(false);
    let out = w.curl(&w.origin_url("/")).run();
    assert_eq!(out.status(), 403, "{out:#?}");
    assert!(
        out.body_text().contains("allow_private_destinations"),
        "{}",
        out.body_text()
    );
}
