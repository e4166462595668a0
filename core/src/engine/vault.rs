//! The vault config object: format version, vault id, settings and key
//! slots, MAC'd under a key derived from the master key (so slots and
//! settings cannot be swapped or downgraded without the password).
//!
//! Stored as `header(22) || JSON(config)`; the header's vault id is the
//! config's own.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::chunker::ChunkerParams;
use super::crypto::{keyed_hash, random_bytes};
use super::format::{
    check_header, write_header, ObjectKind, VaultId, FORMAT_VERSION, VAULT_ID_LEN,
};
use super::keys::{KdfParams, KeySlot, MasterKey, VaultKeys};
use crate::wire::HexString;
use crate::{Error, Result};

/// Most key slots (passwords) a vault may have: opening tries each slot with
/// Argon2, so the count bounds what a tampered config can cost.
pub const MAX_KEY_SLOTS: usize = 32;

/// Per-vault settings, fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultSettings {
    /// Chunk size bounds.
    pub chunker: ChunkerParams,
    /// zstd level (1..=22).
    pub zstd_level: i32,
    /// Target bundle size in bytes.
    pub bundle_size: u32,
}

impl Default for VaultSettings {
    /// Default chunker, zstd level 3, 16 MiB bundles.
    fn default() -> Self {
        VaultSettings {
            chunker: ChunkerParams::default(),
            zstd_level: 3,
            bundle_size: 16 * 1024 * 1024,
        }
    }
}

impl VaultSettings {
    /// Checks every setting, naming the bad one.
    pub fn validate(&self) -> Result<()> {
        self.chunker.validate()?;
        if !(1..=22).contains(&self.zstd_level) {
            return Err(Error::argument(
                "zstd_level",
                format!("{} is outside 1..=22", self.zstd_level),
            ));
        }
        if !(64 * 1024..=1 << 30).contains(&self.bundle_size) {
            return Err(Error::argument(
                "bundle_size",
                format!("{} is outside 64 KiB..=1 GiB", self.bundle_size),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConfigBody {
    format_version: u16,
    vault_id: HexString,
    settings: VaultSettings,
    pub(crate) key_slots: Vec<KeySlot>,
    mac: HexString,
}

/// An unlocked vault: its settings and keys.
#[derive(Debug, Clone)]
pub struct Vault {
    vault_id: VaultId,
    settings: VaultSettings,
    slots: Vec<KeySlot>,
    master: MasterKey,
    keys: VaultKeys,
}

fn mac(
    keys: &VaultKeys,
    vault_id: &VaultId,
    settings: &VaultSettings,
    slots: &[KeySlot],
) -> Result<[u8; 32]> {
    let mut input = b"cloudbackup config".to_vec();
    input.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    input.extend_from_slice(vault_id);
    input.extend_from_slice(
        &serde_json::to_vec(&(settings, slots)).map_err(|e| Error::json("vault config", &e))?,
    );
    Ok(keyed_hash(&keys.config_mac, &input))
}

/// Reads a stored config without unlocking it: header, JSON body, format
/// version and vault id (everything [`Vault::open`] checks before trying
/// passwords). Returns the vault id and the key slots.
pub(crate) fn read_config(config: &[u8]) -> Result<(VaultId, ConfigBody)> {
    let body = check_header(ObjectKind::Config, None, "vault config", config)?;
    let parsed: ConfigBody = crate::error::from_json_slice("vault config", body)?;
    if parsed.format_version != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            object: "vault config".into(),
            found: parsed.format_version,
            supported: FORMAT_VERSION,
        });
    }
    let vault_id: VaultId = parsed
        .vault_id
        .to_bytes()
        .try_into()
        .map_err(|_| Error::corrupt("vault config", "vault id is not 16 bytes"))?;
    if config.get(6..6 + VAULT_ID_LEN) != Some(&vault_id[..]) {
        return Err(Error::corrupt(
            "vault config",
            "header and body name different vaults",
        ));
    }
    if parsed.key_slots.len() > MAX_KEY_SLOTS {
        // Each slot costs an Argon2 run: a config with thousands of them
        // would make opening take hours.
        return Err(Error::corrupt(
            "vault config",
            format!(
                "{} key slots; at most {MAX_KEY_SLOTS} are allowed",
                parsed.key_slots.len()
            ),
        ));
    }
    Ok((vault_id, parsed))
}

impl Vault {
    /// Creates a vault with a random id and master key, opened by `password`.
    pub fn create(password: &[u8], settings: VaultSettings, kdf: KdfParams) -> Result<Self> {
        let mut vault_id = [0u8; VAULT_ID_LEN];
        random_bytes(&mut vault_id)?;
        Self::create_with(MasterKey::random()?, vault_id, password, settings, kdf)
    }

    /// Creates a vault from a known master key and id (golden vaults, tests).
    pub fn create_with(
        master: MasterKey,
        vault_id: VaultId,
        password: &[u8],
        settings: VaultSettings,
        kdf: KdfParams,
    ) -> Result<Self> {
        settings.validate()?;
        let slot = KeySlot::wrap(&master, password, kdf, &vault_id)?;
        let keys = master.derive();
        Ok(Vault {
            vault_id,
            settings,
            slots: vec![slot],
            master,
            keys,
        })
    }

    /// Opens a stored config with `password`: [`Error::WrongPassword`] when no
    /// slot opens, [`Error::Corrupt`] when the config was tampered with.
    /// The same as [`Vault::unlock_master_key`] then [`Vault::open_with_master_key`].
    pub fn open(config: &[u8], password: &[u8]) -> Result<Self> {
        let master = Self::unlock_master_key(config, password)?;
        Self::open_with_master_key(config, master)
    }

    /// The slow half of [`Vault::open`]: runs Argon2 on `password` for each
    /// key slot until one opens, and returns the master key it holds
    /// ([`Error::WrongPassword`] when none does). Nothing but the slot's own
    /// tag is checked here: the config's MAC, form and settings are checked by
    /// [`Vault::open_with_master_key`]. Lets a binding derive the key off
    /// its main thread (a Worker) and open the vault on it.
    pub fn unlock_master_key(config: &[u8], password: &[u8]) -> Result<MasterKey> {
        let (vault_id, parsed) = read_config(config)?;
        for slot in &parsed.key_slots {
            if let Some(m) = slot.unwrap(password, &vault_id)? {
                return Ok(m);
            }
        }
        Err(Error::WrongPassword)
    }

    /// The fast half of [`Vault::open`]: opens a stored config with its
    /// master key (from [`Vault::unlock_master_key`] or [`Vault::master_key`]),
    /// checking the MAC over settings and slots and the config's exact form.
    /// A key that is not this vault's fails the MAC: [`Error::Corrupt`], as a
    /// tampered config does (the two cannot be told apart without a password).
    pub fn open_with_master_key(config: &[u8], master: MasterKey) -> Result<Self> {
        let (vault_id, parsed) = read_config(config)?;
        // The body again, for the canonical-form check below.
        let body = check_header(ObjectKind::Config, None, "vault config", config)?;
        let keys = master.derive();
        let expected = Zeroizing::new(mac(&keys, &vault_id, &parsed.settings, &parsed.key_slots)?);
        if parsed.mac.to_bytes() != expected.as_slice() {
            return Err(Error::corrupt(
                "vault config",
                "MAC mismatch: settings or key slots were changed",
            ));
        }
        // The MAC covers the decoded settings and slots; requiring the body
        // to be exactly what `config_bytes` writes for them extends that to
        // every byte (hex case, whitespace, unknown fields, the MAC's own text).
        let hex = |h: &HexString| HexString::from_bytes(&h.to_bytes());
        let canonical_body = ConfigBody {
            format_version: parsed.format_version,
            vault_id: HexString::from_bytes(&vault_id),
            settings: parsed.settings,
            key_slots: parsed
                .key_slots
                .iter()
                .map(|k| KeySlot {
                    kdf: k.kdf,
                    salt: hex(&k.salt),
                    nonce: hex(&k.nonce),
                    wrapped_key: hex(&k.wrapped_key),
                })
                .collect(),
            mac: HexString::from_bytes(expected.as_slice()),
        };
        let canonical = serde_json::to_vec_pretty(&canonical_body)
            .map_err(|e| Error::json("vault config", &e))?;
        if body != canonical.as_slice() {
            return Err(Error::corrupt(
                "vault config",
                "not in the form it was written in: changed after it was stored",
            ));
        }
        parsed.settings.validate()?;
        Ok(Vault {
            vault_id,
            settings: parsed.settings,
            slots: parsed.key_slots,
            master,
            keys,
        })
    }

    /// The bytes to store as the vault's config.
    pub fn config_bytes(&self) -> Result<Vec<u8>> {
        let body = ConfigBody {
            format_version: FORMAT_VERSION,
            vault_id: HexString::from_bytes(&self.vault_id),
            settings: self.settings,
            key_slots: self.slots.clone(),
            mac: HexString::from_bytes(&mac(
                &self.keys,
                &self.vault_id,
                &self.settings,
                &self.slots,
            )?),
        };
        let mut out = Vec::new();
        write_header(ObjectKind::Config, &self.vault_id, &mut out);
        out.extend_from_slice(
            &serde_json::to_vec_pretty(&body).map_err(|e| Error::json("vault config", &e))?,
        );
        Ok(out)
    }

    /// Adds a key slot for another password.
    pub fn add_password(&mut self, password: &[u8], kdf: KdfParams) -> Result<()> {
        if self.slots.len() >= MAX_KEY_SLOTS {
            return Err(Error::argument(
                "password",
                format!("the vault already has {MAX_KEY_SLOTS} key slots, the most allowed"),
            ));
        }
        self.slots
            .push(KeySlot::wrap(&self.master, password, kdf, &self.vault_id)?);
        Ok(())
    }

    /// Removes the slot that `password` opens; the last slot cannot go.
    pub fn remove_password(&mut self, password: &[u8]) -> Result<()> {
        let index = self.slot_of(password)?;
        if self.slots.len() == 1 {
            return Err(Error::argument(
                "password",
                "the vault's only key slot cannot be removed",
            ));
        }
        self.slots.remove(index);
        Ok(())
    }

    /// Rewraps the master key from `old` to `new` password (data untouched).
    pub fn change_password(&mut self, old: &[u8], new: &[u8], kdf: KdfParams) -> Result<()> {
        let index = self.slot_of(old)?;
        self.slots[index] = KeySlot::wrap(&self.master, new, kdf, &self.vault_id)?;
        Ok(())
    }

    fn slot_of(&self, password: &[u8]) -> Result<usize> {
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.unwrap(password, &self.vault_id)?.is_some() {
                return Ok(i);
            }
        }
        Err(Error::WrongPassword)
    }

    /// The key slots, without secrets, in the order they are tried.
    pub fn key_slots(&self) -> Vec<KeySlotInfo> {
        self.slots
            .iter()
            .map(|slot| KeySlotInfo {
                id: slot_id(slot),
                kdf: slot.kdf,
            })
            .collect()
    }

    /// The id of the key slot `password` opens ([`Error::WrongPassword`] if
    /// none): the "current" key of `cloudbackup key list`.
    pub fn key_slot_of(&self, password: &[u8]) -> Result<String> {
        Ok(slot_id(&self.slots[self.slot_of(password)?]))
    }

    /// Removes the key slot whose id starts with `id` (a unique prefix of
    /// at least 4 digits) and returns its whole id. Refused: the last slot,
    /// and the slot `current` opens (restic refuses to remove the key in
    /// use too: the caller would lock itself out of what it just changed;
    /// `passwd` replaces it instead). Store `config_bytes()` afterwards.
    pub fn remove_key_slot(&mut self, id: &str, current: &[u8]) -> Result<String> {
        let id = id.trim().to_ascii_lowercase();
        if id.len() < 4 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidValue {
                field: "key slot id".into(),
                reason: format!("{id:?} is not 4 or more hex digits of a key slot id"),
            });
        }
        let matches: Vec<usize> = (0..self.slots.len())
            .filter(|&i| slot_id(&self.slots[i]).starts_with(&id))
            .collect();
        let index = match matches.as_slice() {
            [i] => *i,
            [] => {
                return Err(Error::NotFound {
                    what: "key slot".into(),
                    id,
                })
            }
            _ => {
                return Err(Error::InvalidValue {
                    field: "key slot id".into(),
                    reason: format!(
                        "{id} is the start of {} slot ids: give more digits",
                        matches.len()
                    ),
                })
            }
        };
        if self.slots.len() == 1 {
            return Err(Error::argument(
                "key slot id",
                "the vault's only key slot cannot be removed",
            ));
        }
        if self.slots[index].unwrap(current, &self.vault_id)?.is_some() {
            return Err(Error::argument(
                "key slot id",
                "refusing to remove the key slot of the password in use: open the vault with \
                 another password to remove it, or change it with passwd",
            ));
        }
        Ok(slot_id(&self.slots.remove(index)))
    }

    /// The vault's id.
    pub fn id(&self) -> &VaultId {
        &self.vault_id
    }

    /// Its settings.
    pub fn settings(&self) -> &VaultSettings {
        &self.settings
    }

    /// Its master key: only to move this vault to another thread or Worker
    /// ([`Vault::open_with_master_key`] there); never store it.
    pub fn master_key(&self) -> &MasterKey {
        &self.master
    }

    /// Its working keys.
    pub fn keys(&self) -> &VaultKeys {
        &self.keys
    }

    /// Number of key slots.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// What the vault is, without secrets (what the bindings show).
    pub fn info(&self) -> VaultInfo {
        VaultInfo {
            vault_id: crate::wire::encode_hex(&self.vault_id),
            settings: self.settings,
            key_slots: self.slot_count(),
        }
    }
}

/// A key slot as `key list` shows it: an id and its KDF cost, no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySlotInfo {
    /// 16 hex digits naming the slot: a hash of its salt, stable while
    /// the slot exists (a new password gets a new salt, so a new id).
    pub id: String,
    /// Its Argon2id parameters.
    pub kdf: KdfParams,
}

/// A slot's id: BLAKE3 of its salt, so nothing secret and nothing the
/// KDF takes is shown as is.
fn slot_id(slot: &KeySlot) -> String {
    let hash = blake3::hash(&slot.salt.to_bytes());
    crate::wire::encode_hex(&hash.as_bytes()[..8])
}

/// A vault's public description; JSON `{"vault_id": "<32 hex digits>",
/// "settings": {...}, "key_slots": <count>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultInfo {
    /// The vault's id, hex.
    pub vault_id: String,
    /// Its settings.
    pub settings: VaultSettings,
    /// Number of key slots (passwords that open it).
    pub key_slots: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::keys::MAX_KDF_MEMORY_KIB;

    fn kdf() -> KdfParams {
        KdfParams::insecure_for_tests()
    }

    #[test]
    fn create_store_open_and_manage_passwords() {
        let mut v = Vault::create(b"pw1", VaultSettings::default(), kdf()).unwrap();
        let stored = v.config_bytes().unwrap();
        let opened = Vault::open(&stored, b"pw1").unwrap();
        assert_eq!(opened.id(), v.id());
        assert_eq!(
            Vault::open(&stored, b"nope").unwrap_err().code(),
            crate::ErrorCode::WrongPassword
        );
        v.add_password(b"pw2", kdf()).unwrap();
        v.change_password(b"pw1", b"pw3", kdf()).unwrap();
        let stored = v.config_bytes().unwrap();
        assert!(Vault::open(&stored, b"pw1").is_err());
        let a = Vault::open(&stored, b"pw2").unwrap();
        let b = Vault::open(&stored, b"pw3").unwrap();
        assert_eq!(
            a.keys().blob_id,
            b.keys().blob_id,
            "same master key behind both"
        );
        v.remove_password(b"pw2").unwrap();
        assert!(v.remove_password(b"pw3").is_err(), "last slot stays");
    }

    #[test]
    fn key_slots_are_listed_by_id_and_removed_by_prefix_but_not_the_one_in_use() {
        let mut v = Vault::create(b"pw1", VaultSettings::default(), kdf()).unwrap();
        v.add_password(b"pw2", kdf()).unwrap();
        v.add_password(b"pw3", kdf()).unwrap();
        let slots = v.key_slots();
        assert_eq!(slots.len(), 3);
        assert!(slots.iter().all(|s| s.id.len() == 16 && s.kdf == kdf()));
        assert_eq!(v.key_slot_of(b"pw2").unwrap(), slots[1].id);
        assert_eq!(
            v.key_slot_of(b"nope").unwrap_err().code(),
            crate::ErrorCode::WrongPassword
        );

        let err = |r: Result<String>| r.unwrap_err().code();
        assert_eq!(
            err(v.remove_key_slot(&slots[0].id, b"pw1")),
            crate::ErrorCode::InvalidArgument,
            "the slot in use stays"
        );
        assert_eq!(
            err(v.remove_key_slot("ab", b"pw1")),
            crate::ErrorCode::InvalidValue
        );
        assert_eq!(
            err(v.remove_key_slot("not hex!", b"pw1")),
            crate::ErrorCode::InvalidValue
        );
        let unused = (0..u16::MAX)
            .map(|n| format!("{n:04x}"))
            .find(|p| slots.iter().all(|s| !s.id.starts_with(p.as_str())))
            .unwrap();
        assert_eq!(
            err(v.remove_key_slot(&unused, b"pw1")),
            crate::ErrorCode::NotFound
        );

        // Upper case and a prefix name it too; the removed password no
        // longer opens the stored config, the others still do.
        let removed = v
            .remove_key_slot(&slots[1].id[..6].to_uppercase(), b"pw1")
            .unwrap();
        assert_eq!(removed, slots[1].id);
        let stored = v.config_bytes().unwrap();
        assert!(Vault::open(&stored, b"pw2").is_err());
        assert!(Vault::open(&stored, b"pw3").is_ok());
        let mut v = Vault::open(&stored, b"pw3").unwrap();
        v.remove_key_slot(&slots[0].id, b"pw3").unwrap();
        assert_eq!(
            err(v.remove_key_slot(&slots[2].id, b"pw1")),
            crate::ErrorCode::InvalidArgument,
            "the last slot stays"
        );
    }

    #[test]
    fn open_splits_into_unlock_and_open_with_the_master_key() {
        let v = Vault::create(b"pw", VaultSettings::default(), kdf()).unwrap();
        let stored = v.config_bytes().unwrap();
        let master = Vault::unlock_master_key(&stored, b"pw").unwrap();
        assert_eq!(master.to_bytes(), v.master_key().to_bytes());
        let opened = Vault::open_with_master_key(&stored, master).unwrap();
        assert_eq!(opened.id(), v.id());
        assert_eq!(opened.keys().blob_id, v.keys().blob_id);
        assert_eq!(opened.config_bytes().unwrap(), stored);
        assert_eq!(
            Vault::unlock_master_key(&stored, b"nope")
                .unwrap_err()
                .code(),
            crate::ErrorCode::WrongPassword
        );
        // Another vault's key fails the MAC, as tampering does.
        let other = Vault::create(b"pw", VaultSettings::default(), kdf()).unwrap();
        let err = Vault::open_with_master_key(&stored, other.master_key().clone()).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Corrupt, "{err}");
        // The fast half still checks everything but the password.
        let tampered = edited_config(&v, |body| body["settings"]["zstd_level"] = 4.into());
        let master = Vault::unlock_master_key(&tampered, b"pw").unwrap();
        let err = Vault::open_with_master_key(&tampered, master).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Corrupt, "{err}");
    }

    #[test]
    fn tampered_settings_fail_the_mac() {
        let v = Vault::create(b"pw", VaultSettings::default(), kdf()).unwrap();
        let text = String::from_utf8_lossy(&v.config_bytes().unwrap()[22..])
            .replace("\"zstd_level\": 3", "\"zstd_level\": 4");
        let mut stored = v.config_bytes().unwrap()[..22].to_vec();
        stored.extend_from_slice(text.as_bytes());
        assert_eq!(
            Vault::open(&stored, b"pw").unwrap_err().code(),
            crate::ErrorCode::Corrupt
        );
    }

    /// The config with its JSON body passed through `edit`.
    fn edited_config(v: &Vault, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let stored = v.config_bytes().unwrap();
        let mut body: serde_json::Value = serde_json::from_slice(&stored[22..]).unwrap();
        edit(&mut body);
        let mut out = stored[..22].to_vec();
        out.extend_from_slice(&serde_json::to_vec(&body).unwrap());
        out
    }

    #[test]
    fn every_byte_of_the_config_is_authenticated() {
        let v = Vault::create(b"pw", VaultSettings::default(), kdf()).unwrap();
        let stored = v.config_bytes().unwrap();
        let text = String::from_utf8(stored[22..].to_vec()).unwrap();
        let mac = serde_json::from_str::<serde_json::Value>(&text).unwrap()["mac"]
            .as_str()
            .unwrap()
            .to_string();
        let upper = text.replace(&mac, &mac.to_uppercase());
        let spaced = text.replacen('{', "{ ", 1);
        let extra = text.replacen('{', "{\"note\": 1,", 1);
        for changed in [upper, spaced, extra] {
            assert_ne!(changed, text);
            let mut config = stored[..22].to_vec();
            config.extend_from_slice(changed.as_bytes());
            let err = Vault::open(&config, b"pw").unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::Corrupt, "{err}");
        }
    }

    #[test]
    fn slots_asking_for_unbounded_argon2_work_are_refused_before_running_it() {
        let v = Vault::create(b"pw", VaultSettings::default(), kdf()).unwrap();
        for (field, value) in [
            ("memory_kib", u64::from(u32::MAX)),
            ("iterations", 1_000_000),
            ("parallelism", 4096),
        ] {
            let stored = edited_config(&v, |body| {
                body["key_slots"][0]["kdf"][field] = value.into();
            });
            let err = Vault::open(&stored, b"pw").unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::Corrupt, "{field}: {err}");
            assert!(err.to_string().contains(field), "{err}");
        }
        let too_costly = KdfParams {
            memory_kib: MAX_KDF_MEMORY_KIB + 1,
            ..kdf()
        };
        let err = Vault::create(b"pw", VaultSettings::default(), too_costly).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::InvalidValue, "{err}");
    }

    #[test]
    fn the_number_of_key_slots_is_bounded() {
        let mut v = Vault::create(b"pw", VaultSettings::default(), kdf()).unwrap();
        let stored = edited_config(&v, |body| {
            let slot = body["key_slots"][0].clone();
            body["key_slots"] = vec![slot; MAX_KEY_SLOTS + 1].into();
        });
        let err = Vault::open(&stored, b"pw").unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Corrupt, "{err}");
        for i in 1..MAX_KEY_SLOTS {
            v.add_password(format!("pw{i}").as_bytes(), kdf()).unwrap();
        }
        let err = v.add_password(b"one too many", kdf()).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::InvalidArgument, "{err}");
    }
}
