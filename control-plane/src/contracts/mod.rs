//! The terms of service as code: child contracts, options, eligibility, lifecycle and charges
//! (see `docs/contracts.md`, article by article).
//!
//! Pure over plain data, like the state machine that calls it: every function takes the day it
//! decides for (the request's day inside `apply`, never the system clock), so the same inputs
//! give the same answer on every node.

pub mod billing;
pub mod dates;
pub mod lifecycle;
pub mod model;
pub mod prices;
pub mod rules;
pub mod view;

#[cfg(test)]
mod tests;

use std::fmt;

pub use billing::{preview, Bill, Line, LineKind};
pub use dates::YearMonth;
pub use lifecycle::{Effective, Status};
pub use model::*;
pub use prices::{Fees, PriceBook, PriceBookRecord, PriceBooks};
pub use rules::{check, withdraw, Context};

/// How a refusal should reach the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request itself is wrong, whatever the tenant holds.
    Invalid,
    /// 404: it names a contract or option the tenant does not hold.
    NotFound,
    /// 409: the tenant's contracts (or the operator's lists) do not allow it.
    Conflict,
}

/// A refusal, with the article of the terms it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractError {
    pub kind: ErrorKind,
    /// `art. 6-2`, `annex 1`; `None` for a plain not-found.
    pub article: Option<&'static str>,
    pub message: String,
}

impl ContractError {
    pub fn invalid(article: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, Some(article), message)
    }

    pub fn conflict(article: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, Some(article), message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, None, message)
    }

    fn new(kind: ErrorKind, article: Option<&'static str>, message: impl Into<String>) -> Self {
        ContractError {
            kind,
            article,
            message: message.into(),
        }
    }
}

impl fmt::Display for ContractError {
    /// `art. 9: capacity may change only within the same plan (…)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.article {
            Some(article) => write!(f, "{article}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ContractError {}
