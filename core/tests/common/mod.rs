//! Helpers shared by the engine's integration tests (`mod common;`).
// Each test crate that includes this module uses some of its helpers.
#![allow(dead_code)]

/// Deterministic pseudo-random bytes (splitmix64).
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Tiny chunks (1/4/16 KiB) and 64 KiB bundles, so a small tree has many
/// chunks, bundles and ranges.
pub fn tiny_settings() -> cloudbackup_core::engine::VaultSettings {
    cloudbackup_core::engine::VaultSettings {
        chunker: cloudbackup_core::engine::ChunkerParams {
            min_size: 1024,
            avg_size: 4096,
            max_size: 16 * 1024,
        },
        zstd_level: 3,
        bundle_size: 64 * 1024,
    }
}

/// A vault with [`tiny_settings`], a fixed master key and id (from the two
/// bytes), and the tests' cheap KDF.
pub fn tiny_vault(master: u8, id: u8) -> cloudbackup_core::engine::Vault {
    use cloudbackup_core::engine::{keys::MasterKey, KdfParams, Vault};
    Vault::create_with(
        MasterKey::from_bytes([master; 32]),
        [id; 16],
        b"pw",
        tiny_settings(),
        KdfParams::insecure_for_tests(),
    )
    .expect("a vault with the tests' settings")
}

/// What a finished backup stored: its bundles indexed, and their bytes by id.
pub fn index_and_bundles(
    out: &cloudbackup_core::engine::BackupOutcome,
) -> (
    cloudbackup_core::engine::Index,
    std::collections::HashMap<cloudbackup_core::engine::Id, Vec<u8>>,
) {
    let mut index = cloudbackup_core::engine::Index::new();
    for b in &out.bundles {
        index.add_bundle(b);
    }
    let bundles = out
        .bundles
        .iter()
        .map(|b| (b.id, b.bytes.to_vec()))
        .collect();
    (index, bundles)
}
