//! The etcd store.
pub mod layout;
