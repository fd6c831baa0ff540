//! Breakout control plane. A placeholder until the control-plane issue lands: the store, API,
//! CLI and distribution live here then.
#![forbid(unsafe_code)]
