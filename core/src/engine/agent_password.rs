//! The passphrase encrypted for an agent (RSA PKCS#1 v1.5).
//!
//! An encrypted vault's passphrase never travels in the clear: the client
//! encrypts it under the agent's RSA public key (v1 `PublicKey` /
//! `EncryptionKey`, v2 `rsa_public_key`) and sends the lower-case hex of the
//! ciphertext as `EncryptedPassword` (v1) or `encrypted_password_hex` (v2).
//! The keys arrive in the quirky forms of the service's samples — hex wrapped
//! with spaces, either case, `"ExponentHex": 10001` meaning 0x10001 — which
//! [`HexString`] and [`HexNumber`] already read, so this module reuses them.

use rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Encrypt, RsaPublicKey};

use crate::model::wire::{encode_hex, HexNumber, HexString};
use crate::{Error, Result};

/// Smallest modulus accepted: anything shorter is factorable and would
/// expose the vault's passphrase.
pub const MIN_MODULUS_BITS: usize = 1024;

/// Largest modulus accepted: bounds the work an absurd key could cause.
pub const MAX_MODULUS_BITS: usize = 8192;

/// Bytes PKCS#1 v1.5 padding takes from every block (RFC 8017 §7.2.1).
const PKCS1_V15_OVERHEAD: usize = 11;

/// Encrypts `passphrase` (its UTF-8 bytes) for an agent whose public key is
/// `modulus_hex` / `exponent_hex`, as the service expects it in
/// `EncryptedPassword` (v1) and `encrypted_password_hex` (v2): RSA PKCS#1
/// v1.5 with random padding, returned as lower-case hex of the ciphertext
/// (always as many bytes as the modulus).
///
/// The hex may contain whitespace and be in either case; the exponent's
/// digits are hex even when the service sent them as a bare JSON number.
///
/// Errors: [`Error::InvalidArgument`] naming `modulus_hex`, `exponent_hex` or
/// `passphrase` (not hex, empty, or too long for the key), and
/// [`Error::InvalidValue`] for a key that is not a usable RSA key.
pub fn encrypt_password_for_agent(
    modulus_hex: &str,
    exponent_hex: &str,
    passphrase: &str,
) -> Result<String> {
    let modulus =
        HexString::parse(modulus_hex).map_err(|e| Error::argument("modulus_hex", reason_of(e)))?;
    let exponent = HexNumber::parse(exponent_hex)
        .map_err(|e| Error::argument("exponent_hex", reason_of(e)))?;
    encrypt_password_with_key(&modulus, &exponent, passphrase)
}

/// [`encrypt_password_for_agent`] for a key already read from a response:
/// pass `key.modulus_hex, key.exponent_hex` of a v1 `PublicKey`,
/// `public_key_mod, public_key_hex` of a v1 `AvailableBackup`, or
/// `rsa_public_key.modulus, rsa_public_key.exponent` of a v2 agent.
pub fn encrypt_password_with_key(
    modulus: &HexString,
    exponent: &HexNumber,
    passphrase: &str,
) -> Result<String> {
    if passphrase.is_empty() {
        return Err(Error::argument("passphrase", "is empty"));
    }
    let key = agent_public_key(modulus, exponent)?;
    let limit = key.size().saturating_sub(PKCS1_V15_OVERHEAD);
    if passphrase.len() > limit {
        return Err(Error::argument(
            "passphrase",
            format!(
                "is {} bytes; a {}-bit key carries at most {limit} (PKCS#1 v1.5)",
                passphrase.len(),
                key.n().bits()
            ),
        ));
    }
    let ciphertext = key
        .encrypt(&mut OsRng, Pkcs1v15Encrypt, passphrase.as_bytes())
        .map_err(|e| Error::argument("passphrase", format!("RSA encryption failed: {e}")))?;
    Ok(encode_hex(&ciphertext))
}

/// The reason of a hex parse error, without its generic field name (the
/// caller names the argument).
fn reason_of(e: Error) -> String {
    match e {
        Error::InvalidValue { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// Builds the RSA key, refusing what cannot be a sound RSA public key with a
/// message that says which part is wrong.
fn agent_public_key(modulus: &HexString, exponent: &HexNumber) -> Result<RsaPublicKey> {
    let bad_modulus = |reason: String| Error::InvalidValue {
        field: "RSA modulus".into(),
        reason,
    };
    let bad_exponent = |reason: String| Error::InvalidValue {
        field: "RSA public exponent".into(),
        reason,
    };
    let n_bytes = modulus.to_bytes();
    let n = BigUint::from_bytes_be(&n_bytes);
    let bits = n.bits();
    if bits < MIN_MODULUS_BITS {
        return Err(bad_modulus(format!(
            "{bits} bits; at least {MIN_MODULUS_BITS} are required"
        )));
    }
    if bits > MAX_MODULUS_BITS {
        return Err(bad_modulus(format!(
            "{bits} bits; at most {MAX_MODULUS_BITS} are supported"
        )));
    }
    if n_bytes.last().is_some_and(|b| b & 1 == 0) {
        return Err(bad_modulus(
            "is even, so it is not a product of two odd primes".into(),
        ));
    }
    let e = exponent_value(exponent).ok_or_else(|| {
        bad_exponent(format!(
            "0x{} is larger than 2^33 - 1",
            exponent.digits().trim_start_matches('0')
        ))
    })?;
    if e < 3 {
        return Err(bad_exponent(format!("{e} is too small (at least 3)")));
    }
    if e % 2 == 0 {
        return Err(bad_exponent(format!("{e:#x} is even")));
    }
    if e > RsaPublicKey::MAX_PUB_EXPONENT {
        return Err(bad_exponent(format!("{e:#x} is larger than 2^33 - 1")));
    }
    RsaPublicKey::new_with_max_size(n, BigUint::from(e), MAX_MODULUS_BITS).map_err(|err| {
        Error::InvalidValue {
            field: "RSA public key".into(),
            reason: err.to_string(),
        }
    })
}

/// The exponent as a number, `None` when it does not fit 64 bits.
fn exponent_value(exponent: &HexNumber) -> Option<u64> {
    let mut value = 0u64;
    for b in exponent.to_bytes() {
        if value >> 56 != 0 {
            return None;
        }
        value = (value << 8) | u64::from(b);
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use rsa::RsaPrivateKey;

    use super::*;
    use crate::model::{v1, v2};
    use crate::test_support::{sample_v1, sample_v2};

    /// One 1024-bit key for every test: generating keys is slow in debug builds.
    fn private_key() -> &'static RsaPrivateKey {
        static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
        KEY.get_or_init(|| RsaPrivateKey::new(&mut OsRng, 1024).unwrap())
    }

    /// The key's modulus as the samples write it: upper case, wrapped with
    /// spaces and a newline.
    fn quirky_modulus(key: &RsaPrivateKey) -> String {
        let hex = encode_hex(&key.n().to_bytes_be()).to_uppercase();
        let groups: Vec<&str> = hex
            .as_bytes()
            .chunks(50)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(" {}\n", groups.join(" \n "))
    }

    fn decrypt(key: &RsaPrivateKey, hex: &str) -> Vec<u8> {
        let bytes = HexString::parse(hex).unwrap().to_bytes();
        key.decrypt(Pkcs1v15Encrypt, &bytes).unwrap()
    }

    fn err_names(e: &Error, what: &str) -> bool {
        match e {
            Error::InvalidArgument { name, .. } => name == what,
            Error::InvalidValue { field, .. } => field == what,
            _ => false,
        }
    }

    #[test]
    fn round_trips_through_the_private_key() {
        let key = private_key();
        let modulus = quirky_modulus(key);
        assert!(modulus.contains(' ') && modulus.contains('\n'));
        for passphrase in ["p", "correct horse battery staple", "pässwörd ✓"] {
            let hex = encrypt_password_for_agent(&modulus, "10001", passphrase).unwrap();
            assert_eq!(hex.len(), 2 * key.size(), "as long as the modulus");
            assert_eq!(hex, hex.to_lowercase());
            assert_eq!(decrypt(key, &hex), passphrase.as_bytes());
        }
        // The exponent with spaces and a leading zero, the modulus in lower case.
        let hex =
            encrypt_password_for_agent(&modulus.to_lowercase(), " 0 1 0001 ", "secret").unwrap();
        assert_eq!(decrypt(key, &hex), b"secret");
    }

    #[test]
    fn padding_is_random() {
        let modulus = quirky_modulus(private_key());
        let a = encrypt_password_for_agent(&modulus, "10001", "same").unwrap();
        let b = encrypt_password_for_agent(&modulus, "10001", "same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn passphrase_length_is_bounded_by_the_key() {
        let key = private_key();
        let modulus = quirky_modulus(key);
        let longest = "x".repeat(key.size() - 11);
        let hex = encrypt_password_for_agent(&modulus, "10001", &longest).unwrap();
        assert_eq!(decrypt(key, &hex), longest.as_bytes());
        let e = encrypt_password_for_agent(&modulus, "10001", &format!("{longest}x")).unwrap_err();
        assert!(err_names(&e, "passphrase"), "{e}");
        assert!(e.to_string().contains("at most 117"), "{e}");
        let e = encrypt_password_for_agent(&modulus, "10001", "").unwrap_err();
        assert!(err_names(&e, "passphrase"), "{e}");
    }

    #[test]
    fn unusable_keys_are_refused_with_a_reason() {
        let modulus = quirky_modulus(private_key());
        // 256 digits with a top nibble of 0xc: exactly 1024 bits, and odd.
        let short = "c".repeat(255) + "d";
        assert!(encrypt_password_for_agent(&short, "10001", "p").is_ok());
        let cases: &[(&str, &str, &str, &str)] = &[
            (&short[1..], "10001", "RSA modulus", "1020 bits"),
            ("ab01", "10001", "RSA modulus", "16 bits"),
            (&"c".repeat(2100), "10001", "RSA modulus", "8400 bits"),
            (&"c".repeat(256), "10001", "RSA modulus", "even"),
            (&modulus, "0", "RSA public exponent", "too small"),
            (&modulus, "1", "RSA public exponent", "too small"),
            (&modulus, "9528", "RSA public exponent", "0x9528 is even"),
            (&modulus, "200000001", "RSA public exponent", "larger"),
            (
                &modulus,
                "1 0000 0000 0000 0001",
                "RSA public exponent",
                "larger",
            ),
            (
                &modulus,
                "1 0000 0000 0000 0000 01",
                "RSA public exponent",
                "larger",
            ),
            ("0x1234", "10001", "modulus_hex", "'x' is not a hex digit"),
            ("", "10001", "modulus_hex", "no hex digits"),
            (
                &modulus,
                "0x10001",
                "exponent_hex",
                "'x' is not a hex digit",
            ),
            (&modulus, " ", "exponent_hex", "no hex digits"),
        ];
        for (n, e, what, reason) in cases {
            let err = encrypt_password_for_agent(n, e, "p").unwrap_err();
            assert!(err_names(&err, what), "{n:.20} / {e}: {err}");
            assert!(err.to_string().contains(reason), "{n:.20} / {e}: {err}");
        }
    }

    /// Every key in the reference samples, decided one by one: the 2048-bit
    /// keys and the odd 1024-bit keys with exponent 0x10001 encrypt; the
    /// agents' `a526...` key is even with exponent 0x9528 and the backup's
    /// `a326...` key has the even exponent 0x20010, so both are refused. The
    /// restore-details modulus is the restore-config one with a digit lost
    /// (511 digits, 2044 bits); it is still odd and large enough, so it
    /// encrypts: nothing in a public key can show such damage.
    #[test]
    fn sample_keys_encrypt_or_are_refused() {
        let v1_key = |json: &str, at: &str| -> v1::PublicKey {
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            serde_json::from_value(v[at].clone()).unwrap()
        };
        let encrypt = |k: &v1::PublicKey| {
            encrypt_password_with_key(&k.modulus_hex, &k.exponent_hex, "vault passphrase")
        };
        let len = |r: Result<String>| r.unwrap().len() / 2;
        let v1_ok = [
            (
                sample_v1!("createBackupConfiguration-response.json"),
                "EncryptionKey",
                256,
            ),
            (
                sample_v1!("createRestoreConfig_response.json"),
                "PublicKey",
                256,
            ),
            (
                sample_v1!("getRestoreDetails_response.json"),
                "PublicKey",
                256,
            ),
        ];
        for (json, at, bytes) in v1_ok {
            assert_eq!(len(encrypt(&v1_key(json, at))), bytes, "{at}");
        }
        for json in [
            sample_v1!("getAgentDetails_response.json"),
            sample_v1!("getAgentServer_response.json"),
            sample_v1!("updateAgentBackupBehavior_response.json"),
        ] {
            let e = encrypt(&v1_key(json, "PublicKey")).unwrap_err();
            assert!(e.to_string().contains("modulus: is even"), "{e}");
        }
        let e = encrypt(&v1_key(
            sample_v1!("getBackupDetails_response.json"),
            "EncryptionKey",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("0x20010 is even"), "{e}");

        let available: Vec<v1::AvailableBackup> =
            serde_json::from_str(sample_v1!("getAvailableBackups_response.json")).unwrap();
        for b in &available {
            let (n, e) = (b.public_key_mod.as_ref(), b.public_key_hex.as_ref());
            let hex = encrypt_password_with_key(n.unwrap(), e.unwrap(), "p").unwrap();
            assert_eq!(hex.len() / 2, 128);
        }

        let agent: v2::agent::Agent =
            serde_json::from_str(sample_v2!("cbu-getAgentDetails_response.json")).unwrap();
        let k = &agent.rsa_public_key;
        let hex = encrypt_password_with_key(&k.modulus, &k.exponent, "p").unwrap();
        assert_eq!(hex.len() / 2, 256);
    }
}
