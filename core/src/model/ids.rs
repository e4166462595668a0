//! Ids as the model and the API layer check them: a resource id becomes a
//! path segment or a header, so it must be one.

use crate::{Error, Result};

/// A checked, non-empty id for a path segment or header.
pub fn require_id(name: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::argument(name, "must not be empty"));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(Error::argument(name, "must not contain control characters"));
    }
    // Percent-encoding leaves dots alone, and a client or proxy that
    // normalises the URL would turn `logfiles/..` into the parent resource.
    if value == "." || value == ".." {
        return Err(Error::argument(name, format!("{value:?} is not an id")));
    }
    Ok(())
}
