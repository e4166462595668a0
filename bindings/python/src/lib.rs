//! # cloudbackup._native
//!
//! The private native module of the `cloudbackup` Python package, built by
//! maturin (python/pyproject.toml). The package's Python code wraps it; users
//! import `cloudbackup`, never this module.
//!
//! The binding holds no domain logic: it converts Python values to the
//! core's types and back, and maps the core's one error type once (in
//! [`error`]) onto the exception hierarchy of `cloudbackup.errors`.
//!
//! Conventions:
//! - JSON-shaped values cross the boundary as Python objects (`dict`,
//!   `list`, `str`, `int`, `float`, `bool`, `None`; [`value`]): no JSON
//!   text to decode on the Python side. JSON arguments take those objects
//!   or JSON text.
//! - Bytes arguments take any bytes-like object ([`input::BytesIn`]):
//!   `bytes` without a copy, others (bytearray, memoryview, ...) with one;
//!   a backup's `write` reads every C-contiguous buffer in place
//!   ([`input::BytesView`]: the buffer protocol, in the stable ABI from
//!   Python 3.11).
//! - Heavy calls (key derivation, backup writes, restore feeds, verifying)
//!   release the GIL while the core works.
//! - Handles (`Vault`, `Index`, `Snapshot`, sessions) are thread-safe: each
//!   guards its state with a mutex.
#![deny(missing_docs)]

pub mod agent;
pub mod api;
pub mod backup;
pub mod error;
pub mod input;
pub mod job;
pub mod prune;
pub mod pyser;
pub mod restore;
pub mod select;
pub mod state;
pub mod value;
pub mod vault;

use pyo3::prelude::*;

/// The module `cloudbackup._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FORMAT_VERSION", cloudbackup_core::engine::FORMAT_VERSION)?;
    m.add("MAX_THREADS", cloudbackup_core::engine::MAX_THREADS)?;
    api::register(m)?;
    job::register(m)?;
    vault::register(m)?;
    backup::register(m)?;
    restore::register(m)?;
    select::register(m)?;
    state::register(m)?;
    prune::register(m)?;
    agent::register(m)?;
    Ok(())
}
