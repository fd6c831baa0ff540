use super::*;
use crate::state::{CreateWebhook, DeleteWebhook};
use crate::state::{Secret, MAX_WEBHOOKS};

fn create(id: &str, url: &str, secret: &str) -> Command {
    Command::CreateWebhook(CreateWebhook {
        tenant: "acme".into(),
        id: id.into(),
        url: url.into(),
        secret: Secret(secret.into()),
    })
}

const SECRET: &str = "0123456789abcdef";

#[test]
fn a_webhook_is_stored_and_deleted() {
    let mut log = Log::with_acme();
    let v = log.ok(create("h1", "https://hooks.example/x", SECRET));
    let hook = &log.state.webhooks["acme"]["h1"];
    assert_eq!(
        (hook.url.as_str(), hook.created_version),
        ("https://hooks.example/x", v)
    );
    log.ok(Command::DeleteWebhook(DeleteWebhook {
        tenant: "acme".into(),
        id: "h1".into(),
    }));
    assert!(log.state.webhooks.is_empty());
    log.rejected(
        Command::DeleteWebhook(DeleteWebhook {
            tenant: "acme".into(),
            id: "h1".into(),
        }),
        RejectKind::NotFound,
    );
}

#[test]
fn urls_secrets_and_counts_are_checked() {
    let mut log = Log::with_acme();
    for url in [
        "ftp://x.example/",
        "not a url",
        "https://u:p@x.example/",
        "/relative",
    ] {
        let msg = log.rejected(create("h", url, SECRET), RejectKind::Invalid);
        assert!(msg.starts_with("url:"), "{msg}");
    }
    let msg = log.rejected(
        create("h", "http://x.example/", "short"),
        RejectKind::Invalid,
    );
    assert!(msg.starts_with("secret:"), "{msg}");
    assert!(!msg.contains("short"), "the secret is not echoed: {msg}");
    log.rejected(
        create("bad_id", "http://x.example/", SECRET),
        RejectKind::Invalid,
    );
    for i in 0..MAX_WEBHOOKS {
        log.ok(create(&format!("h{i}"), "http://x.example/", SECRET));
    }
    log.rejected(
        create("one-more", "http://x.example/", SECRET),
        RejectKind::Conflict,
    );
}

#[test]
fn a_secret_never_shows_in_debug_output() {
    let cmd = create("h", "http://x.example/", SECRET);
    assert!(!format!("{cmd:?}").contains(SECRET));
}
