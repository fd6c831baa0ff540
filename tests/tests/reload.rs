//! SIGHUP reloads: atomic policy swap, open tunnels survive, bad files are rejected.

use std::net::Ipv4Addr;

use breakout_tests::wait::SOON;
use breakout_tests::{wait_until, Rule, Tenant, World, TENANT};

const GENERATION: &str = "breakout_edge_config_generation";
const RELOADS: &str = "breakout_edge_config_reloads_total";

fn wait_generation(w: &World, g: f64) {
    wait_until(SOON, &format!("config generation {g}"), || {
        w.edge.metric(GENERATION, &[]) == Some(g)
    });
}

#[test]
fn reload_keeps_open_tunnel_and_applies_new_rules() {
    let w = World::start();
    let mut tunnel = w.raw();
    assert_eq!(
        tunnel
            .connect_tunnel(&w.echo_target())
            .expect("CONNECT")
            .status,
        200
    );
    assert_eq!(tunnel.echo(b"before").expect("echo"), b"before");

    // Phase 1: the rule that sent origin.test and echo.test direct now blocks them.
    let mut cfg = w.config.clone();
    cfg.tenant_mut(TENANT).rules[0].action = "block".into();
    w.edge.reload(&cfg.to_toml());
    wait_generation(&w, 2.0);
    assert_eq!(w.edge.counter(RELOADS, &[("result", "ok")]), 1.0);

    // Phase 2: the tunnel opened under the old policy still works.
    assert_eq!(
        tunnel.echo(b"after").expect("tunnel survives reload"),
        b"after"
    );

    // Phase 3: new requests see the new rules.
    let out = w.curl(&w.origin_url("/")).run();
    assert_eq!(out.status(), 403, "{out:#?}");
    let mut c = w.raw();
    assert_eq!(
        c.connect_tunnel(&w.echo_target()).expect("CONNECT").status,
        403
    );
    assert_eq!(w.origin.requests().len(), 0);
}

#[test]
fn unparsable_reload_keeps_old_policy() {
    let w = World::start();
    assert_eq!(w.edge.metric(GENERATION, &[]), Some(1.0));
    w.edge.reload("this is [not toml");
    wait_until(SOON, "reload counted as error", || {
        w.edge.counter(RELOADS, &[("result", "error")]) == 1.0
    });
    assert_eq!(
        w.edge.metric(GENERATION, &[]),
        Some(1.0),
        "generation must not change"
    );
    let out = w.curl(&w.origin_url("/")).run();
    assert_eq!(
        out.status(),
        200,
        "old policy (direct) must still apply: {out:#?}"
    );
    assert_eq!(out.header("x-origin"), Some("yes"));
}

#[test]
fn reload_with_invalid_action_is_rejected() {
    let w = World::start();
    let mut cfg = w.config.clone();
    cfg.tenant_mut(TENANT).rules[0].action = "teleport".into();
    w.edge.reload(&cfg.to_toml());
    wait_until(SOON, "reload counted as error", || {
        w.edge.counter(RELOADS, &[("result", "error")]) == 1.0
    });
    assert_eq!(w.edge.metric(GENERATION, &[]), Some(1.0));
    assert_eq!(w.curl(&w.origin_url("/")).run().status(), 200);
}

#[test]
fn reload_with_unknown_upstream_is_rejected() {
    let w = World::start();
    let mut cfg = w.config.clone();
    cfg.tenant_mut(TENANT).default_action = "upstream:nowhere".into();
    w.edge.reload(&cfg.to_toml());
    wait_until(SOON, "reload counted as error", || {
        w.edge.counter(RELOADS, &[("result", "error")]) == 1.0
    });
    assert_eq!(w.edge.metric(GENERATION, &[]), Some(1.0));
    assert_eq!(w.curl("http://upstream.test:1234/").run().status(), 200);
    assert_eq!(w.parent.lines().len(), 1);
}

#[test]
fn reload_adds_a_tenant() {
    let w = World::start();
    let from_new = || w.curl(&w.origin_url("/")).interface("127.0.0.2").run();
    assert_eq!(
        from_new().status(),
        0,
        "127.0.0.2 is unknown before the reload: closed unanswered"
    );

    let cfg = w.config.clone().tenant(
        Tenant::new("beta", "127.0.0.2/32", "block")
            .upstream("corp", w.parent.addr())
            .rule(Rule::new("saas", "direct", &["origin.test"])),
    );
    w.edge.reload(&cfg.to_toml());
    wait_generation(&w, 2.0);
    let out = from_new();
    assert_eq!(out.status(), 200, "{out:#?}");
    assert_eq!(out.header("x-origin"), Some("yes"));
}

#[test]
fn reload_lowering_the_limit_applies_to_new_sessions() {
    let w = World::start();
    let mut held = w.raw();
    assert_eq!(
        held.connect_tunnel(&w.echo_target())
            .expect("CONNECT")
            .status,
        200
    );

    let mut cfg = w.config.clone();
    cfg.tenant_mut(TENANT).session_limit = 1;
    w.edge.reload(&cfg.to_toml());
    wait_generation(&w, 2.0);

    let mut c = w.raw_from(Ipv4Addr::LOCALHOST);
    let resp = c.connect_tunnel(&w.echo_target()).expect("CONNECT");
    assert_eq!(resp.status, 503, "limit 1 with one tunnel open: {resp:?}");
    assert_eq!(held.echo(b"still").expect("held tunnel survives"), b"still");
}
