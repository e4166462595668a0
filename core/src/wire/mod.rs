//! Wire types shared by the v1 and v2 models: the service's JSON quirks,
//! each accepted on input and written back in the form it arrived in, so a
//! parsed body re-serialises to the same JSON value.
//!
//! | quirk | type |
//! |---|---|
//! | `"\/Date(1357151359000)\/"` (v1 dates) | [`MsDate`] |
//! | `"2014-10-20T13:11:58.985151Z"` (v2 times, any precision, `Z` or offset) | [`Timestamp`] |
//! | `"35.3 MB"` sizes | [`HumanSize`] |
//! | numbers sent as strings (`"id": "5152883998"`) | [`LooseInt`] |
//! | booleans sent as strings (`"true"`) | [`LooseBool`] |
//! | hex with embedded spaces (`"a526 1939..."`) | [`HexString`] |
//! | a bare JSON number meaning hex digits (`"ExponentHex": 10001` = 0x10001) | [`HexNumber`] |
//! | a name of an open set the service may grow (an event name the docs do not list) | [`Open`] |
//!
//! Value sets are Rust enums declared with [`wire_enum!`](crate::wire_enum)
//! (wire names) or [`wire_enum_with_ids!`](crate::wire_enum_with_ids) (names and
//! v1 numeric ids); [`ById`] carries such an enum by its id, as a number or a
//! numeric string (or by name, as some clients send it), and writes it back
//! in the same form. Sets that decide what
//! a client may do (states, actions, frequencies) are closed: an unknown value
//! is an error. Sets that only name things the service may add to (event
//! names, activity types, host flavors, data centers) are [`Open`]: an
//! unknown name is kept as sent and written back unchanged.

mod dates;
mod hex;
mod loose;
mod names;
mod size;
#[cfg(test)]
mod tests;

#[cfg(any(feature = "engine", test))]
pub(crate) use dates::{civil_from_days, days_from_civil};
pub use dates::{MsDate, Timestamp};
pub use hex::{encode_hex, HexNumber, HexString};
pub use loose::{LooseBool, LooseInt};
pub use names::{deserialize_wire_name, parse_wire_name, ById, Open, WireId, WireName};
pub use size::{HumanSize, SizeUnit};
