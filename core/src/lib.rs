//! # cloudbackup-core
//!
//! The network-free core every Cloud Backup client embeds: the v1.0 and v2
//! domain model ([`model`]), transport-neutral request builders and response
//! parsers ([`api`]), lifecycle state machines ([`lifecycle`]) and JSON Patch
//! validation with per-endpoint policies ([`patch`]).
//!
//! The host supplies transport and file I/O; everything here is pure and
//! deterministic, so the JS, C and Python bindings behave identically.
#![deny(missing_docs)]

pub mod api;
pub mod engine;
pub mod error;
pub mod lifecycle;
pub mod model;
pub mod patch;
#[cfg(test)]
mod test_support;

pub use error::{Error, ErrorCode, Result};
