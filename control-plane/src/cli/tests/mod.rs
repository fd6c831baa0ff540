//! Command-line parsing: what each subcommand accepts and refuses, without a server.

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use super::args::*;

mod contracts;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("breakoutctl").chain(args.iter().copied()))
}

fn ok(args: &[&str]) -> Cli {
    parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn refused(args: &[&str]) -> ErrorKind {
    match parse(args) {
        Ok(cli) => panic!("{args:?} parsed as {cli:?}"),
        Err(e) => e.kind(),
    }
}

#[test]
fn the_command_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn global_options_go_anywhere_and_default_sensibly() {
    let cli = ok(&["region", "list"]);
    assert_eq!(cli.output, Output::Table);
    let cli = ok(&[
        "region",
        "list",
        "-o",
        "json",
        "--server",
        "http://10.0.0.1:7070",
    ]);
    assert_eq!(
        (cli.output, cli.server.as_str()),
        (Output::Json, "http://10.0.0.1:7070")
    );
    let cli = ok(&["--token", "t", "--token-file", "/tmp/t", "audit"]);
    assert_eq!(cli.token.as_deref(), Some("t"));
    assert!(cli.token_file.is_some());
    assert_eq!(refused(&["-o", "xml", "audit"]), ErrorKind::InvalidValue);
}

#[test]
fn tenant_create_takes_a_file_or_flags_but_not_both() {
    let cli = ok(&["tenant", "create", "--file", "t.json"]);
    assert!(matches!(
        cli.command,
        Command::Tenant(TenantCmd::Create(TenantCreate { file: Some(_), .. }))
    ));
    let cli = ok(&[
        "tenant",
        "create",
        "acme",
        "--region",
        "tokyo",
        "--source-cidr",
        "10.0.0.0/16",
        "192.0.2.0/24",
        "--session-limit",
        "20000",
        "--upstream",
        "corp=proxy:8080",
        "--default-action",
        "upstream:corp",
    ]);
    let Command::Tenant(TenantCmd::Create(c)) = cli.command else {
        panic!()
    };
    assert_eq!(c.source_cidr, ["10.0.0.0/16", "192.0.2.0/24"]);
    assert_eq!(c.upstream, [("corp".to_string(), "proxy:8080".to_string())]);

    assert_eq!(
        refused(&["tenant", "create"]),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        refused(&["tenant", "create", "acme", "--region", "tokyo"]),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        refused(&["tenant", "create", "acme", "--file", "t.json"]),
        ErrorKind::ArgumentConflict
    );
}

#[test]
fn model_values_are_checked_before_sending() {
    let base = [
        "tenant",
        "create",
        "acme",
        "--region",
        "tokyo",
        "--session-limit",
        "1",
    ];
    let with =
        |extra: &[&'static str]| -> Vec<&str> { base.iter().chain(extra).copied().collect() };
    assert_eq!(
        refused(&with(&["--source-cidr", "2001:db8::/32"])),
        ErrorKind::ValueValidation
    );
    assert_eq!(
        refused(&with(&["--source-cidr", "10.0.0.1/16"])),
        ErrorKind::ValueValidation
    );
    assert_eq!(
        refused(&["tenant", "set-default", "acme", "allow"]),
        ErrorKind::ValueValidation
    );
    assert_eq!(
        refused(&["rule", "add", "acme", "--action", "direct", "--dest", "a..b"]),
        ErrorKind::ValueValidation
    );
    assert_eq!(
        refused(&["rule", "add", "acme", "--action", "direct", "--dest", "x", "--port", "0"]),
        ErrorKind::ValueValidation
    );
    assert_eq!(
        refused(&["tenant", "set-limit", "acme", "-5"]),
        ErrorKind::UnknownArgument
    );
}

#[test]
fn canonical_forms_are_what_gets_sent() {
    let cli = ok(&["source-ip", "add", "acme", "192.0.2.7"]);
    let Command::SourceIp(SourceIpCmd::Add { cidr, .. }) = cli.command else {
        panic!()
    };
    assert_eq!(cidr, "192.0.2.7/32");
    let cli = ok(&[
        "list",
        "set",
        "acme",
        "block",
        "Ads.Example.COM",
        "*.Tracker.example",
    ]);
    let Command::List(ListCmd::Set { entries, .. }) = cli.command else {
        panic!()
    };
    assert_eq!(entries, ["ads.example.com", "*.tracker.example"]);
}

#[test]
fn rule_add_needs_destinations_or_lists() {
    ok(&[
        "rule",
        "add",
        "acme",
        "--action",
        "block",
        "--dest",
        "ads.example",
    ]);
    ok(&[
        "rule", "add", "acme", "--action", "direct", "--list", "m365", "--port", "443", "80",
    ]);
    assert_eq!(
        refused(&["rule", "add", "acme", "--action", "block"]),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        refused(&["rule", "add", "acme", "--dest", "x"]),
        ErrorKind::MissingRequiredArgument
    );
}

#[test]
fn list_set_takes_entries_or_a_file() {
    ok(&[
        "list",
        "set",
        "acme",
        "block",
        "--file",
        "-",
        "--if-match",
        "12",
    ]);
    assert_eq!(
        refused(&["list", "set", "acme", "block"]),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        refused(&["list", "set", "acme", "block", "a.example", "--file", "f"]),
        ErrorKind::ArgumentConflict
    );
}

#[test]
fn if_match_is_a_version_number() {
    let cli = ok(&["tenant", "delete", "acme", "--if-match", "9"]);
    let Command::Tenant(TenantCmd::Delete { if_match, .. }) = cli.command else {
        panic!()
    };
    assert_eq!(if_match.version, Some(9));
    assert_eq!(
        refused(&["tenant", "delete", "acme", "--if-match", "\"9\""]),
        ErrorKind::ValueValidation
    );
}

#[test]
fn every_subcommand_parses() {
    for args in [
        &["cluster", "status"][..],
        &["cluster", "add-node", "2", "10.0.0.2:7070"],
        &["cluster", "remove-node", "2"],
        &["region", "create", "tokyo", "--description", "Tokyo"],
        &["region", "delete", "tokyo"],
        &["tenant", "list"],
        &["tenant", "get", "acme"],
        &["tenant", "set-limit", "acme", "40000"],
        &["tenant", "set-cap", "acme", "40"],
        &["tenant", "set-cap", "acme", "none"],
        &["source-ip", "list", "acme"],
        &["source-ip", "set", "acme", "10.0.0.0/16", "10.1.0.0/16"],
        &["source-ip", "remove", "acme", "10.1.0.0/16"],
        &["rule", "list", "acme"],
        &["rule", "set", "acme", "--file", "rules.json"],
        &["rule", "remove", "acme", "2"],
        &["list", "ls", "acme"],
        &["list", "show", "acme", "block"],
        &["list", "delete", "acme", "block"],
        &["token", "create", "acme", "--label", "ci"],
        &["token", "list"],
        &["token", "revoke", "ab12"],
        &["audit", "--since", "10", "--limit", "50"],
        &["completions", "zsh"],
        &["explain", "acme", "www.example.com:8443"],
    ] {
        ok(args);
    }
}

/// Every argument of every subcommand says what it is (`breakoutctl … --help`).
#[test]
fn every_argument_has_help() {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(
        &<crate::cli::args::Cli as clap::CommandFactory>::command(),
        "breakoutctl",
        &mut missing,
    );
    assert!(missing.is_empty(), "arguments without help: {missing:#?}");
}

#[test]
fn help_is_a_display_not_an_error() {
    assert_eq!(refused(&["--help"]), ErrorKind::DisplayHelp);
    assert_eq!(
        refused(&["source-ip", "add", "--help"]),
        ErrorKind::DisplayHelp
    );
    assert_eq!(
        refused(&["tenant"]),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
}

#[test]
fn usage_errors_exit_with_2() {
    assert_eq!(
        parse(&["region", "nope"])
            .map(|_| ())
            .unwrap_err()
            .exit_code(),
        2
    );
}

#[test]
fn set_quotas_takes_numbers_or_default_per_quota() {
    let cli = ok(&[
        "tenant",
        "set-quotas",
        "acme",
        "--lists",
        "200",
        "--entries",
        "default",
    ]);
    let Command::Tenant(TenantCmd::SetQuotas(args)) = cli.command else {
        panic!("parsed as {:?}", cli.command);
    };
    let named = args.named();
    assert_eq!(
        named,
        vec![
            ("lists", crate::cli::quota_args::QuotaValue(Some(200))),
            ("entries", crate::cli::quota_args::QuotaValue(None)),
        ]
    );
    assert_eq!(
        refused(&["tenant", "set-quotas", "acme", "--lists", "many"]),
        ErrorKind::ValueValidation
    );
    ok(&["tenant", "quotas", "acme"]);
}

#[test]
fn the_usage_line_never_asks_for_a_token() {
    // The token comes from --token, BREAKOUT_TOKEN or --token-file: none is required on the
    // command line, so a usage error never tells someone with BREAKOUT_TOKEN set to pass one.
    for args in [&["tenant", "get"][..], &["rule", "add"], &["explain"]] {
        let err = parse(args).map(|_| ()).unwrap_err();
        let text = err.render().to_string();
        assert!(text.contains("Usage: breakoutctl"), "{text}");
        assert!(!text.contains("--token"), "{args:?}: {text}");
    }
}

#[test]
fn every_output_format_parses() {
    for (flag, want) in [
        ("table", Output::Table),
        ("json", Output::Json),
        ("yaml", Output::Yaml),
    ] {
        assert_eq!(ok(&["-o", flag, "edge", "list"]).output, want);
    }
    assert_eq!(
        refused(&["-o", "xml", "edge", "list"]),
        ErrorKind::InvalidValue
    );
}
