//! Parsing of the contract, option, billing, price-book and template subcommands.

use clap::error::ErrorKind;
use clap::Parser;

use crate::cli::args::{Cli, Command, TenantCmd};
use crate::cli::contract_args::*;
use crate::cli::template_args::TemplateCmd;
use crate::contracts::{ContractKind, OptionKind, TemplateItem};

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("breakoutctl").chain(args.iter().copied()))
}

fn ok(args: &[&str]) -> Command {
    parse(args)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
        .command
}

fn refused(args: &[&str]) -> ErrorKind {
    match parse(args) {
        Ok(cli) => panic!("{args:?} parsed as {cli:?}"),
        Err(e) => e.kind(),
    }
}

#[test]
fn every_contract_subcommand_parses() {
    for args in [
        &["contract", "list", "acme", "--on", "2025-02-01"][..],
        &[
            "contract",
            "add",
            "acme",
            "list-template",
            "--item",
            "microsoft365",
        ],
        &[
            "contract",
            "add",
            "acme",
            "cloud-bypass",
            "--capacity",
            "40000",
            "--option",
            "initial-setup",
            "--option",
            "pac",
        ],
        &[
            "contract",
            "add",
            "acme",
            "external-integration",
            "--billing-start",
            "2025-03-01",
        ],
        &[
            "contract",
            "change-capacity",
            "acme",
            "c2",
            "120000",
            "--effective",
            "2025-03-01",
        ],
        &[
            "contract",
            "cancel",
            "acme",
            "c2",
            "--end",
            "2025-06-30",
            "--provider-fault",
            "--stop-options",
        ],
        &["option", "list", "acme"],
        &["option", "add", "acme", "pac"],
        &[
            "option",
            "stop",
            "acme",
            "access-control",
            "--end",
            "2025-05-01",
        ],
        &["billing", "preview", "acme", "--month", "2024-02"],
        &["price-book", "show"],
        &[
            "price-book",
            "set",
            "--file",
            "book.json",
            "--effective-from",
            "2025-04-01",
        ],
        &[
            "template",
            "withdraw",
            "google-workspace",
            "--effective",
            "2025-09-30",
        ],
        &["tenant", "attributes", "acme"],
        &[
            "tenant",
            "attributes",
            "acme",
            "--private-backbone",
            "true",
            "--internet-access-date",
            "2020-05-01",
        ],
        &["tenant", "attributes", "acme", "--no-internet-access"],
    ] {
        ok(args);
    }
}

#[test]
fn kinds_items_dates_and_months_are_checked_before_sending() {
    for args in [
        &["contract", "add", "acme", "cloud", "--capacity", "1"][..],
        &[
            "contract",
            "add",
            "acme",
            "list-template",
            "--item",
            "gsuite",
        ],
        &["contract", "list", "acme", "--on", "2025-02-30"],
        &["option", "add", "acme", "vpn"],
        &["billing", "preview", "acme", "--month", "2025-13"],
        &["template", "withdraw", "office"],
    ] {
        assert_eq!(refused(args), ErrorKind::ValueValidation, "{args:?}");
    }
    let not_a_bool = [
        "tenant",
        "attributes",
        "acme",
        "--private-backbone",
        "maybe",
    ];
    assert_eq!(refused(&not_a_bool), ErrorKind::InvalidValue);
    assert_eq!(
        refused(&[
            "tenant",
            "attributes",
            "acme",
            "--internet-access-date",
            "2021-01-01",
            "--no-internet-access"
        ]),
        ErrorKind::ArgumentConflict
    );
}

#[test]
fn values_arrive_typed() {
    let Command::Contract(ContractCmd::Add(add)) = ok(&[
        "contract",
        "add",
        "acme",
        "cloud-bypass",
        "--capacity",
        "40000",
        "--option",
        "pac",
    ]) else {
        panic!("not contract add")
    };
    assert_eq!(
        (add.kind, add.capacity, add.options),
        (
            ContractKind::CloudBypass,
            Some(40_000),
            vec![OptionKind::Pac]
        )
    );
    let Command::Template(TemplateCmd::Withdraw { item, effective }) =
        ok(&["template", "withdraw", "azure-expressroute"])
    else {
        panic!("not template withdraw")
    };
    assert_eq!((item, effective), (TemplateItem::AzureExpressroute, None));
    let Command::Tenant(TenantCmd::Attributes(a)) = ok(&[
        "tenant",
        "attributes",
        "acme",
        "--private-backbone",
        "false",
    ]) else {
        panic!("not tenant attributes")
    };
    assert_eq!(a.private_backbone, Some(false));
    let Command::Billing(BillingCmd::Preview { month, .. }) =
        ok(&["billing", "preview", "acme", "--month", "2024-02"])
    else {
        panic!("not billing preview")
    };
    assert_eq!(month.map(|m| m.days()), Some(29));
}
