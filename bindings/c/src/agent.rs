//! The agent's half of the vault-password flow (`cb_agent_key`: an RSA key
//! pair, its public key in the service's form, decryption of
//! `EncryptedPassword` / `encrypted_password_hex`) and the mapping between
//! the service's integer `snapshot_id` and a vault snapshot's hex id. Thin
//! wrappers over `cloudbackup_core::engine::AgentKey` and
//! `cloudbackup_core::model::v2::snapshot_id`.

use std::ffi::c_char;

use cloudbackup_core::api::{AgentKey, DEFAULT_AGENT_KEY_BITS};
use cloudbackup_core::model::v2::snapshot_id::{snapshot_id_for, vault_snapshot_prefix};

use crate::ffi::{
    c_bytes, c_string, free, guard, guard_void, into_handle, json_string, try_out, try_ref,
    try_slice, try_str, Failure,
};
use crate::status::cb_status;

/// An agent's RSA key pair. Made by `cb_agent_key_generate` or
/// `cb_agent_key_from_der`, freed by `cb_agent_key_free` (the private key
/// is zeroed then).
pub struct cb_agent_key {
    key: AgentKey,
}

fn to_json<T: serde::Serialize>(what: &str, value: &T) -> Result<serde_json::Value, Failure> {
    serde_json::to_value(value).map_err(|e| Failure::Core(cloudbackup_core::Error::json(what, &e)))
}

/// Generates a key pair of `bits` bits (0 for the default, 2048; else a
/// multiple of 8 from 1024 to 8192) with public exponent 0x10001, from the
/// operating system's random source.
///
/// Errors: `CB_INVALID_ARGUMENT` for another size.
///
/// # Safety
/// `out_key` points to a writable `cb_agent_key *` (freed with
/// `cb_agent_key_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_agent_key_generate(
    bits: usize,
    out_key: *mut *mut cb_agent_key,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_key);
        let bits = if bits == 0 {
            DEFAULT_AGENT_KEY_BITS
        } else {
            bits
        };
        *out = into_handle(cb_agent_key {
            key: AgentKey::generate(bits)?,
        });
        Ok(())
    })
}

/// Reads a private key stored as DER (`der`, `len` bytes): PKCS#8, as
/// `cb_agent_key_to_der` writes it, or PKCS#1.
///
/// Errors: `CB_INVALID_VALUE` for bytes that are no sound RSA private key
/// of a usable size.
///
/// # Safety
/// `der` points to `len` readable bytes (or is NULL with `len` 0);
/// `out_key` points to a writable `cb_agent_key *` (freed with
/// `cb_agent_key_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_agent_key_from_der(
    der: *const u8,
    len: usize,
    out_key: *mut *mut cb_agent_key,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_key);
        let der = try_slice!(der, len);
        *out = into_handle(cb_agent_key {
            key: AgentKey::from_der(der)?,
        });
        Ok(())
    })
}

/// The private key as PKCS#8 DER, to store as a secret between runs, in
/// `*out_der` / `*out_len` (freed with `cb_bytes_free`, which zeroes them).
///
/// # Safety
/// `key` is a valid `cb_agent_key`; `out_der` and `out_len` point to a
/// writable `uint8_t *` and `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_agent_key_to_der(
    key: *const cb_agent_key,
    out_der: *mut *mut u8,
    out_len: *mut usize,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_der);
        let out_len = try_out!(out_len);
        let key = try_ref!(key);
        let der = key.key.to_pkcs8_der()?;
        (*out, *out_len) = c_bytes(der.to_vec());
        Ok(())
    })
}

/// The public key in the service's v1 form, `{"ModulusHex": "<lower-case
/// hex>", "ExponentHex": "10001"}` (an agent's `PublicKey`), in
/// `*out_json`.
///
/// # Safety
/// `key` is a valid `cb_agent_key`; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_agent_key_public_key(
    key: *const cb_agent_key,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let key = try_ref!(key);
        *out = json_string(&to_json("public key", &key.key.public_key())?)?;
        Ok(())
    })
}

/// The public key in v2's form, `{"modulus": ..., "exponent": "10001"}`
/// (`rsa_public_key` of agent registration), in `*out_json`.
///
/// # Safety
/// `key` is a valid `cb_agent_key`; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_agent_key_rsa_public_key(
    key: *const cb_agent_key,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let key = try_ref!(key);
        *out = json_string(&to_json("public key", &key.key.rsa_public_key())?)?;
        Ok(())
    })
}

/// Decrypts a passphrase the service hands the agent (`EncryptedPassword`
/// of v1, `encrypted_password_hex` of v2 events: hex of an RSA PKCS#1 v1.5
/// ciphertext under this key, spaces and either case accepted) into
/// `*out_passphrase` (UTF-8; freed with `cb_string_free`, which zeroes it).
///
/// Errors: `CB_INVALID_ARGUMENT` for text that is not hex or too long;
/// `CB_INVALID_VALUE` when it does not decrypt under this key or is not
/// UTF-8 (or holds a NUL, which a C string cannot).
///
/// # Safety
/// `key` is a valid `cb_agent_key`; `encrypted_password_hex` is
/// NUL-terminated; `out_passphrase` points to a writable `char *`.
#[no_mangle]
pub unsafe extern "C" fn cb_agent_key_decrypt_password(
    key: *const cb_agent_key,
    encrypted_password_hex: *const c_char,
    out_passphrase: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_passphrase);
        let key = try_ref!(key);
        let hex = try_str!(encrypted_password_hex);
        let plain = key.key.decrypt_password(hex)?;
        *out = c_string(plain.to_string(), "passphrase")?;
        Ok(())
    })
}

/// Frees a key (NULL is ignored); the private key is zeroed. Free each key
/// exactly once.
///
/// # Safety
/// `key` is NULL or a `cb_agent_key` not freed before.
#[no_mangle]
pub unsafe extern "C" fn cb_agent_key_free(key: *mut cb_agent_key) {
    guard_void(|| free!(key));
}

/// The `snapshot_id` an agent reports to the service for a vault snapshot
/// (its hex id, any case, at least 13 digits): the number its first 13 hex
/// digits make (below 2^52), in `*out_snapshot_id`. Deterministic; the
/// reverse is `cb_vault_snapshot_prefix`.
///
/// Errors: `CB_INVALID_VALUE` for text that is not hex or too short.
///
/// # Safety
/// `vault_snapshot_id` is NUL-terminated; `out_snapshot_id` points to a
/// writable `int64_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_snapshot_id_for_vault_snapshot(
    vault_snapshot_id: *const c_char,
    out_snapshot_id: *mut i64,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_snapshot_id);
        let id = try_str!(vault_snapshot_id);
        *out = snapshot_id_for(id)?;
        Ok(())
    })
}

/// The vault snapshot id prefix (13 lower-case hex digits) that a service
/// `snapshot_id` stands for, in `*out_prefix`: resolve it among the vault's
/// snapshots as any id prefix.
///
/// Errors: `CB_INVALID_VALUE` for a number outside 0..2^52.
///
/// # Safety
/// `out_prefix` points to a writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_snapshot_prefix(
    snapshot_id: i64,
    out_prefix: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_prefix);
        *out = c_string(vault_snapshot_prefix(snapshot_id)?, "prefix")?;
        Ok(())
    })
}

#[cfg(test)]
// The tests call the exports as C would, with pointers they own or just got
// from the library, each freed once: the exports' contract, met throughout.
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use std::ffi::{CStr, CString};
    use std::ptr;

    use super::*;
    use crate::ffi::{cb_bytes_free, cb_string_free};

    /// Copies a string the library returned, then frees it.
    fn take_string(s: *mut c_char) -> String {
        let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
        unsafe { cb_string_free(s) };
        text
    }

    #[test]
    fn a_key_made_here_decrypts_what_is_encrypted_for_it() {
        let mut key = ptr::null_mut();
        let st = unsafe { cb_agent_key_generate(1024, &mut key) };
        assert_eq!(st, cb_status::CB_OK);
        let mut json = ptr::null_mut();
        let st = unsafe { cb_agent_key_public_key(key, &mut json) };
        assert_eq!(st, cb_status::CB_OK);
        let public: serde_json::Value = serde_json::from_str(&take_string(json)).unwrap();
        let hex = cloudbackup_core::api::encrypt_password_for_agent(
            public["ModulusHex"].as_str().unwrap(),
            public["ExponentHex"].as_str().unwrap(),
            "vault pass",
        )
        .unwrap();
        let hex = CString::new(hex).unwrap();
        let (mut der, mut len) = (ptr::null_mut(), 0);
        let st = unsafe { cb_agent_key_to_der(key, &mut der, &mut len) };
        assert_eq!(st, cb_status::CB_OK);
        let mut again = ptr::null_mut();
        let st = unsafe { cb_agent_key_from_der(der, len, &mut again) };
        assert_eq!(st, cb_status::CB_OK);
        let mut plain = ptr::null_mut();
        let st = unsafe { cb_agent_key_decrypt_password(again, hex.as_ptr(), &mut plain) };
        assert_eq!(st, cb_status::CB_OK);
        assert_eq!(take_string(plain), "vault pass");
        unsafe {
            cb_bytes_free(der, len);
            cb_agent_key_free(again);
            cb_agent_key_free(key);
        }
        let mut bad = ptr::null_mut();
        let st = unsafe { cb_agent_key_from_der(ptr::null(), 0, &mut bad) };
        assert_eq!(st, cb_status::CB_INVALID_VALUE);
        assert!(bad.is_null());
    }

    #[test]
    fn snapshot_ids_map_both_ways() {
        let id = CString::new("8df64bf92f345330cc4e2cab73f10c5cfe49d48c769b3556d7d3824d929cec4b")
            .unwrap();
        let mut n = 0;
        let st = unsafe { cb_snapshot_id_for_vault_snapshot(id.as_ptr(), &mut n) };
        assert_eq!(st, cb_status::CB_OK);
        assert_eq!(n, 0x0008_df64_bf92_f345);
        let mut prefix = ptr::null_mut();
        let st = unsafe { cb_vault_snapshot_prefix(n, &mut prefix) };
        assert_eq!(st, cb_status::CB_OK);
        assert_eq!(take_string(prefix), "8df64bf92f345");
        let st = unsafe { cb_vault_snapshot_prefix(-5, &mut prefix) };
        assert_eq!(st, cb_status::CB_INVALID_VALUE);
        assert!(prefix.is_null());
    }
}
