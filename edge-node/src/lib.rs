//! Breakout edge node: the forward proxy tenants' browsers and devices talk to.
//!
//! Request path (see `docs/architecture.md`): accept → tenant by source address → admission →
//! request checks → policy decision → forward or tunnel → access log and metrics.
//!
//! Imports point down (docs/architecture.md lists the layers): `main` → `admin`, `reload`,
//! `sync`, `pac_listener` → `proxy` → `shared` → `snapshot` → `metrics`, `access_log`,
//! `pac_file` → leaves (`config`, `outcome`, `transfer`, `admission`, `sources`, `waiting`,
//! `quota`, `resolve`, `drain`).
// Denied everywhere but two places, each call with a SAFETY note: `proxy::splice` (pipe2 and
// splice) and `proxy::dial::bind_address_no_port` (one setsockopt).
#![deny(unsafe_code)]

pub mod access_log;
pub mod admin;
pub mod admission;
pub mod config;
pub mod drain;
pub mod metrics;
pub mod outcome;
pub mod pac_file;
pub mod pac_listener;
pub mod proxy;
pub mod quota;
pub mod reload;
pub mod resolve;
pub mod shared;
pub mod snapshot;
pub mod sources;
pub mod sync;
pub mod transfer;
pub mod waiting;
