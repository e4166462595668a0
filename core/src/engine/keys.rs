//! The key hierarchy: a random 256-bit master key, subkeys derived from it
//! with BLAKE3 `derive_key`, and key slots that wrap the master key under
//! Argon2id(password). Changing a password rewraps; data is never re-encrypted.

use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::crypto::{
    derive_key, random_bytes, random_nonce, Aead, SecretKey, KEY_LEN, NONCE_LEN, TAG_LEN,
};
use super::format::{contexts, VaultId, FORMAT_VERSION};
use crate::wire::HexString;
use crate::{Error, Result};

/// Argon2id cost parameters, stored in each key slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: RFC 9106's second recommendation, sized
    /// for a backup agent that unlocks once per run.
    fn default() -> Self {
        KdfParams {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

/// Most memory a key slot may ask Argon2 for (4 GiB): a stored config is
/// input, and without a bound a tampered slot could make every opener try
/// to allocate terabytes.
pub const MAX_KDF_MEMORY_KIB: u32 = 4 * 1024 * 1024;
/// Most Argon2 passes a key slot may ask for (bounds the time a tampered
/// slot can cost; real settings use 1-10).
pub const MAX_KDF_ITERATIONS: u32 = 64;
/// Most Argon2 lanes a key slot may ask for.
pub const MAX_KDF_PARALLELISM: u32 = 64;

impl KdfParams {
    /// Checks the parameters against the limits above (Argon2's own minimums
    /// are checked when it is set up).
    pub fn check_limits(&self) -> Result<()> {
        let limits = [
            ("memory_kib", self.memory_kib, MAX_KDF_MEMORY_KIB),
            ("iterations", self.iterations, MAX_KDF_ITERATIONS),
            ("parallelism", self.parallelism, MAX_KDF_PARALLELISM),
        ];
        for (name, value, max) in limits {
            if value > max {
                return Err(Error::InvalidValue {
                    field: format!("key slot KDF parameter {name}"),
                    reason: format!("{value} is above the limit of {max}"),
                });
            }
        }
        Ok(())
    }

    /// The cheapest parameters Argon2 accepts: for tests and golden vaults
    /// only, never for real passwords.
    pub fn insecure_for_tests() -> Self {
        KdfParams {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn argon2(&self) -> Result<Argon2<'static>> {
        self.check_limits()?;
        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(KEY_LEN),
        )
        .map_err(|e| Error::InvalidValue {
            field: "key slot KDF parameters".into(),
            reason: e.to_string(),
        })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    fn to_bytes(self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&self.memory_kib.to_le_bytes());
        b[4..8].copy_from_slice(&self.iterations.to_le_bytes());
        b[8..].copy_from_slice(&self.parallelism.to_le_bytes());
        b
    }
}

/// Bytes of Argon2 salt per slot.
pub const SALT_LEN: usize = 16;

/// One way into the vault: the master key wrapped under a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySlot {
    /// Argon2id parameters.
    pub kdf: KdfParams,
    /// Argon2 salt (hex).
    pub salt: HexString,
    /// AES-GCM nonce of the wrapping (hex).
    pub nonce: HexString,
    /// The wrapped master key and its tag (hex).
    pub wrapped_key: HexString,
}

fn slot_aad(vault_id: &VaultId, kdf: KdfParams, salt: &[u8]) -> Vec<u8> {
    let mut aad = b"cloudbackup key slot".to_vec();
    aad.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    aad.extend_from_slice(vault_id);
    aad.extend_from_slice(&kdf.to_bytes());
    aad.extend_from_slice(salt);
    aad
}

fn key_encryption_key(password: &[u8], salt: &[u8], kdf: KdfParams) -> Result<SecretKey> {
    if password.is_empty() {
        return Err(Error::argument("password", "must not be empty"));
    }
    let mut raw = Zeroizing::new([0u8; KEY_LEN]);
    kdf.argon2()?
        .hash_password_into(password, salt, raw.as_mut())
        .map_err(|e| Error::InvalidValue {
            field: "key slot".into(),
            reason: e.to_string(),
        })?;
    Ok(SecretKey::from_bytes(derive_key(
        contexts::KEY_SLOT,
        raw.as_ref(),
    )))
}

impl KeySlot {
    /// Wraps `master` under `password` with fresh salt and nonce.
    pub fn wrap(
        master: &MasterKey,
        password: &[u8],
        kdf: KdfParams,
        vault_id: &VaultId,
    ) -> Result<Self> {
        let mut salt = [0u8; SALT_LEN];
        random_bytes(&mut salt)?;
        let nonce = random_nonce()?;
        let kek = key_encryption_key(password, &salt, kdf)?;
        let mut wrapped = Vec::with_capacity(KEY_LEN + TAG_LEN);
        Aead::new(&kek).seal_into(
            &nonce,
            &slot_aad(vault_id, kdf, &salt),
            master.0.as_bytes(),
            &mut wrapped,
        )?;
        Ok(KeySlot {
            kdf,
            salt: HexString::from_bytes(&salt),
            nonce: HexString::from_bytes(&nonce),
            wrapped_key: HexString::from_bytes(&wrapped),
        })
    }

    /// The master key, if `password` opens this slot.
    pub fn unwrap(&self, password: &[u8], vault_id: &VaultId) -> Result<Option<MasterKey>> {
        let salt = self.salt.to_bytes();
        let nonce: [u8; NONCE_LEN] =
            self.nonce.to_bytes().try_into().map_err(|_| {
                Error::corrupt("vault config", "a key slot's nonce is not 12 bytes")
            })?;
        // A stored slot that Argon2 cannot run is damage, not a bad argument.
        let kek = key_encryption_key(password, &salt, self.kdf).map_err(|e| match e {
            Error::InvalidValue { reason, field } => {
                Error::corrupt("vault config", format!("{field}: {reason}"))
            }
            other => other,
        })?;
        let opened = Aead::new(&kek).open(
            &nonce,
            &slot_aad(vault_id, self.kdf, &salt),
            &self.wrapped_key.to_bytes(),
        );
        match opened {
            None => Ok(None),
            Some(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                    Error::corrupt("vault config", "a key slot holds a key of the wrong length")
                })?;
                Ok(Some(MasterKey(SecretKey::from_bytes(key))))
            }
        }
    }
}

/// A key slot whose wrapped bytes are `plaintext` (any length, not
/// necessarily a key), under `password` with the given salt: lets the
/// fuzzing harness hand [`KeySlot::unwrap`] an authenticated but arbitrary
/// slot.
#[cfg(feature = "fuzzing")]
pub(crate) fn seal_slot(
    password: &[u8],
    kdf: KdfParams,
    salt: &[u8],
    vault_id: &VaultId,
    plaintext: &[u8],
) -> Result<KeySlot> {
    let nonce = random_nonce()?;
    let kek = key_encryption_key(password, salt, kdf)?;
    let mut wrapped = Vec::with_capacity(plaintext.len() + TAG_LEN);
    Aead::new(&kek).seal_into(
        &nonce,
        &slot_aad(vault_id, kdf, salt),
        plaintext,
        &mut wrapped,
    )?;
    Ok(KeySlot {
        kdf,
        salt: HexString::from_bytes(salt),
        nonce: HexString::from_bytes(&nonce),
        wrapped_key: HexString::from_bytes(&wrapped),
    })
}

/// The vault's random 256-bit master key. Never stored in the clear.
#[derive(Debug, Clone)]
pub struct MasterKey(SecretKey);

impl MasterKey {
    /// A fresh random master key.
    pub fn random() -> Result<Self> {
        Ok(MasterKey(SecretKey::random()?))
    }

    /// A master key from known bytes (tests and golden vaults).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        MasterKey(SecretKey::from_bytes(bytes))
    }

    /// The key bytes, wiped when dropped: only to move an unlocked vault to
    /// another thread or Worker (`Vault::open_with_master_key` there).
    pub fn to_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(*self.0.as_bytes())
    }

    /// The AES-256 key of data blobs, wiped when dropped: only for a host
    /// that opens blobs with its own AES-256-GCM (a browser's WebCrypto,
    /// which keeps it as a non-extractable key; see
    /// [`RestoreSession::next_sealed`](super::restore::RestoreSession::next_sealed)).
    /// It opens data blobs of this vault and nothing else: not the
    /// metadata, not the key slots.
    pub fn blob_encryption_key(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(*self.0.derive(contexts::BLOB_ENCRYPTION).as_bytes())
    }

    /// Derives the working keys.
    pub fn derive(&self) -> VaultKeys {
        VaultKeys {
            blob_id: self.0.derive(contexts::BLOB_ID),
            object_id: self.0.derive(contexts::OBJECT_ID),
            blob: Aead::new(&self.0.derive(contexts::BLOB_ENCRYPTION)),
            metadata: Aead::new(&self.0.derive(contexts::METADATA_ENCRYPTION)),
            chunker: self.0.derive(contexts::CHUNKER),
            config_mac: self.0.derive(contexts::CONFIG_MAC),
        }
    }
}

/// The subkeys a vault works with, all derived from the master key.
#[derive(Debug, Clone)]
pub struct VaultKeys {
    /// Keyed BLAKE3 key naming blobs.
    pub blob_id: SecretKey,
    /// Keyed BLAKE3 key naming indexes and snapshots.
    pub object_id: SecretKey,
    /// AES-256-GCM of data blobs.
    pub blob: Aead,
    /// AES-256-GCM of trailers, indexes and snapshots.
    pub metadata: Aead,
    /// Seed of the chunker's gear table.
    pub chunker: SecretKey,
    /// MAC key of the config.
    pub config_mac: SecretKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_open_with_their_password_only() {
        let master = MasterKey::from_bytes([5; 32]);
        let vault = [1; 16];
        let kdf = KdfParams::insecure_for_tests();
        let slot = KeySlot::wrap(&master, b"correct horse", kdf, &vault).unwrap();
        let opened = slot.unwrap(b"correct horse", &vault).unwrap().unwrap();
        assert_eq!(opened.0, master.0);
        assert!(slot.unwrap(b"wrong", &vault).unwrap().is_none());
        assert!(
            slot.unwrap(b"correct horse", &[2; 16]).unwrap().is_none(),
            "bound to the vault"
        );
        let mut weaker = slot.clone();
        weaker.kdf.iterations += 1;
        assert!(
            weaker.unwrap(b"correct horse", &vault).unwrap().is_none(),
            "bound to its params"
        );
        assert!(KeySlot::wrap(&master, b"", kdf, &vault).is_err());
    }

    #[test]
    fn subkeys_differ_per_context() {
        let keys = MasterKey::from_bytes([5; 32]).derive();
        assert_ne!(keys.blob_id, keys.object_id);
        assert_ne!(keys.chunker, keys.config_mac);
    }
}
