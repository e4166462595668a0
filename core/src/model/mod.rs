//! The Cloud Backup domain model: typed request and response bodies of every
//! operation, v1.0 (PascalCase JSON) in [`v1`] and v2 (snake_case JSON) in
//! [`v2`], built on the wire-quirk types of [`crate::wire`].
//! [`by_name::models`](crate::by_name::models) names every body type, for bindings that parse and normalise JSON by type name.
//!
//! Parsing policy, the same for every type:
//! * **unknown fields are ignored** (dropped on parse, not written back), so a
//!   newer service adding fields never breaks an older client; the sample
//!   round-trip test proves that every documented field is modelled;
//! * a documented field that is absent or `null` parses as `None` where the
//!   reference marks it optional;
//! * enumerations are closed: an unknown value is an error naming the field's
//!   type and listing the accepted values;
//! * quirks are accepted and written back in the form they came in (see [`crate::wire`]).

mod ids;
pub mod v1;
pub mod v2;

pub use ids::require_id;
