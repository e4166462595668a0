//! # cloudbackup-core
//!
//! The network-free core every Cloud Backup client embeds: the v1.0 and v2
//! domain model ([`model`], on the wire-quirk types of [`wire`]), transport-neutral request builders and response
//! parsers ([`api`]), lifecycle state machines ([`lifecycle`]) and JSON Patch
//! validation with per-endpoint policies ([`patch`]).
//!
//! Bindings reach all of it by name, with JSON in and out, through
//! [`by_name`]: operations, model types, lifecycle and patch rules.
//!
//! The host supplies transport and file I/O; everything here is pure and
//! deterministic, so the JS, C and Python bindings behave identically.
#![deny(missing_docs)]

pub mod api;
pub mod by_name;
#[cfg(feature = "engine")]
pub mod engine;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod json_text;
pub mod lifecycle;
pub mod model;
pub mod patch;
#[cfg(test)]
mod test_support;
mod value_path;
pub mod wire;

pub use error::{Error, ErrorCode, Result};
