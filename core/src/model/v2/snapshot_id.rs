//! The mapping between the service's `snapshot_id` and a vault's snapshots.
//!
//! v2 carries a backup's snapshot as an integer (`"snapshot_id": 4`, in
//! backups, browse and restore events, cleanups' `snapshot_ids`; v1 reports
//! `SnapshotId`), while a vault names its snapshots by content id: 64 hex
//! digits (32 bytes of keyed BLAKE3, see `docs/FORMAT.md`). An agent reports
//! for a snapshot the number made of the **first 13 hex digits of its id**
//! (52 bits), [`snapshot_id_for`]:
//!
//! * deterministic and stable: the same snapshot always gives the same
//!   number, on every host and binding, with no table to keep;
//! * exact in every JSON reader: below 2^52, so JavaScript's numbers hold it
//!   (the v2 samples send the snapshot id as a JSON number);
//! * reversible to a prefix: the number as 13 hex digits
//!   ([`vault_snapshot_prefix`]) is a prefix of the snapshot's id, which
//!   every vault command resolves (`cloudbackup restore VAULT 0a1b2c3d4e5f6
//!   ...`, `VaultState::resolve`);
//! * unique in practice: ids are uniformly distributed, so two snapshots of
//!   one vault share the first 52 bits with probability about n²/2^53 (one in
//!   a billion for 3000 snapshots); should it ever happen, resolving the
//!   prefix reports the ambiguity rather than picking one.

use crate::{Error, Result};

/// Hex digits of a snapshot id that make its service `snapshot_id`.
pub const SNAPSHOT_ID_HEX_DIGITS: usize = 13;

/// One more than the largest `snapshot_id` an agent reports (2^52).
pub const SNAPSHOT_ID_LIMIT: i64 = 1 << (4 * SNAPSHOT_ID_HEX_DIGITS);

/// The `snapshot_id` an agent reports to the service for the vault snapshot
/// `vault_snapshot_id` (its hex id, any case; the full 64 digits, or any
/// prefix of at least 13): the number its first 13 hex digits make.
///
/// Errors: [`Error::InvalidValue`] naming `vault_snapshot_id` for text that
/// is not hex or shorter than 13 digits.
pub fn snapshot_id_for(vault_snapshot_id: &str) -> Result<i64> {
    let bad = |reason: String| Error::InvalidValue {
        field: "vault_snapshot_id".into(),
        reason,
    };
    if !vault_snapshot_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(format!("{vault_snapshot_id:?} is not hex digits")));
    }
    let head = vault_snapshot_id
        .get(..SNAPSHOT_ID_HEX_DIGITS)
        .ok_or_else(|| {
            bad(format!(
                "{vault_snapshot_id:?} has {} hex digits; at least {SNAPSHOT_ID_HEX_DIGITS} are needed",
                vault_snapshot_id.len()
            ))
        })?;
    i64::from_str_radix(head, 16).map_err(|e| bad(e.to_string()))
}

/// The prefix of the vault snapshot id that a service `snapshot_id` stands
/// for: the number as 13 lower-case hex digits. Resolve it among the vault's
/// snapshots as any id prefix.
///
/// Errors: [`Error::InvalidValue`] naming `snapshot_id` for a number outside
/// `0..2^52` (not one an agent of this library reported).
pub fn vault_snapshot_prefix(snapshot_id: i64) -> Result<String> {
    if !(0..SNAPSHOT_ID_LIMIT).contains(&snapshot_id) {
        return Err(Error::InvalidValue {
            field: "snapshot_id".into(),
            reason: format!(
                "{snapshot_id} is outside 0..2^52, so it does not name a vault snapshot"
            ),
        });
    }
    Ok(format!(
        "{snapshot_id:0width$x}",
        width = SNAPSHOT_ID_HEX_DIGITS
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

    #[test]
    fn the_number_is_the_first_52_bits_and_maps_back_to_a_prefix() {
        let n = snapshot_id_for(ID).unwrap();
        assert_eq!(n, 0x0a1b2c3d4e5f6);
        assert_eq!(snapshot_id_for(&ID.to_uppercase()).unwrap(), n);
        assert_eq!(snapshot_id_for(&ID[..13]).unwrap(), n);
        let prefix = vault_snapshot_prefix(n).unwrap();
        assert_eq!(prefix, &ID[..13]);
        assert_eq!(
            snapshot_id_for(&"f".repeat(64)).unwrap(),
            SNAPSHOT_ID_LIMIT - 1
        );
        assert_eq!(vault_snapshot_prefix(0).unwrap(), "0000000000000");
        // Below 2^53: exact as a JavaScript number.
        const { assert!(SNAPSHOT_ID_LIMIT < 1 << 53) };
    }

    #[test]
    fn what_is_not_an_id_or_not_a_reported_number_is_refused() {
        for bad in ["", "0a1b2c3d4e5f", "0a1b2c3d4e5fz", "-a1b2c3d4e5f6"] {
            let e = snapshot_id_for(bad).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidValue { field, .. } if field == "vault_snapshot_id"),
                "{bad}: {e}"
            );
        }
        for bad in [-1, SNAPSHOT_ID_LIMIT, i64::MAX] {
            assert!(vault_snapshot_prefix(bad).is_err(), "{bad}");
        }
    }
}
