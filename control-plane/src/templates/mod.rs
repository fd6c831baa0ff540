//! Destination-list templates (art. 2, 3, 11): vendor lists → versioned templates in the store →
//! tenants' compiled lists at the edges. Everything here but `poll` is pure: adapters turn the
//! vendors' documents into [`model::TemplateContent`], [`guard`] decides whether a candidate may
//! go live, [`diff`] says what changed, [`select`] compiles a tenant's subscription into lists.
//! See `docs/templates.md`.

pub mod args;
pub mod cidr;
pub mod dialect;
pub mod diff;
pub mod expressroute;
pub mod google;
pub mod guard;
pub mod instance;
pub mod m365;
pub mod model;
pub mod poll;
pub mod schedule;
pub mod select;
pub mod snapshot;

pub use model::{Category, EndpointSet, TemplateContent};
