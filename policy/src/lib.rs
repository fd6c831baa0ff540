//! Breakout's shared policy model.
//!
//! Everything here is pure data and pure functions: the tenant model the control plane stores and
//! sends to edges ([`model`]), the one host canonicaliser ([`canon`]), validation ([`validate`])
//! the compiled destination matcher ([`matcher`]), the destination guard's address classes
//! ([`guard`]), the one decision for a tenant's request ([`route`]) and the control-plane ↔ edge
//! protocol ([`wire`]), with the words for how a request ended ([`outcome`]). No I/O, so all of it is unit-testable.
#![forbid(unsafe_code)]

pub mod action;
pub mod canon;
pub mod destination;
pub mod earlier;
pub mod error;
pub mod export;
pub mod guard;
pub mod m365;
pub mod matcher;
pub mod model;
pub mod outcome;
pub mod pac;
pub mod pac_settings;
pub mod route;
pub mod validate;
pub mod wire;

pub use action::Action;
pub use canon::{canonical_host, Host, HostError};
pub use destination::Destination;
pub use error::PolicyError;
pub use matcher::{Decision, Explanation, Matcher};
pub use model::{
    ForeignSources, NamedList, OutOfService, RegionPolicy, Rule, SourceCidr, Tenant, SCHEMA_VERSION,
};
pub use route::{Route, Routed, Router};
