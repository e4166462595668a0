//! Sample file name -> typed model.

#[allow(unused_imports)]
use super::support::{rt, RoundTrip};

/// The samples this table maps.
pub fn table() -> Vec<(&'static str, RoundTrip)> {
    vec![]
}
