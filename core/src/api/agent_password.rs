//! The passphrase encrypted for an agent (RSA PKCS#1 v1.5), both halves.
//!
//! An encrypted vault's passphrase never travels in the clear: the client
//! encrypts it under the agent's RSA public key (v1 `PublicKey` /
//! `EncryptionKey`, v2 `rsa_public_key`) and sends the lower-case hex of the
//! ciphertext as `EncryptedPassword` (v1) or `encrypted_password_hex` (v2).
//! The keys arrive in the quirky forms of the service's samples — hex wrapped
//! with spaces, either case, `"ExponentHex": 10001` meaning 0x10001 — which
//! [`HexString`] and [`HexNumber`] already read, so this module reuses them.
//!
//! The agent's half is [`AgentKey`]: it generates the key pair, gives the
//! public key in the service's `ModulusHex` / `ExponentHex` form (and v2's
//! `modulus` / `exponent`) to register or report, stores the private key as
//! PKCS#8 DER, and decrypts what the service hands over. Private keys and
//! decrypted passphrases are zeroized when dropped.

use rand_core::OsRng;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use crate::model::{v1, v2};
use crate::wire::{encode_hex, HexNumber, HexString};
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

/// Size of the keys [`AgentKey::generate`] makes by default.
pub const DEFAULT_AGENT_KEY_BITS: usize = 2048;

/// An agent's RSA key pair: the other half of the vault-password flow.
///
/// The agent registers (v2 `rsa_public_key`) or reports (v1 `PublicKey`) the
/// public key; users encrypt the vault passphrase with it
/// ([`encrypt_password_for_agent`]); the agent decrypts `EncryptedPassword`
/// (v1) or `encrypted_password_hex` (v2 events) with
/// [`AgentKey::decrypt_password`]. The private key is zeroized on drop
/// (the `rsa` crate's `RsaPrivateKey` does so); keep it between runs with
/// [`AgentKey::to_pkcs8_der`] / [`AgentKey::from_der`].
#[derive(Clone)]
pub struct AgentKey {
    key: RsaPrivateKey,
}

impl std::fmt::Debug for AgentKey {
    /// The public half only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AgentKey({} bits, public exponent {:#x})",
            self.bits(),
            self.key.e()
        )
    }
}

impl AgentKey {
    /// Generates a key pair of `bits` bits (a multiple of 8 from
    /// [`MIN_MODULUS_BITS`] to [`MAX_MODULUS_BITS`]; use
    /// [`DEFAULT_AGENT_KEY_BITS`]) with public exponent 0x10001, from the
    /// operating system's random source.
    ///
    /// Errors: [`Error::InvalidArgument`] naming `bits`.
    pub fn generate(bits: usize) -> Result<Self> {
        if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) || !bits.is_multiple_of(8) {
            return Err(Error::argument(
                "bits",
                format!(
                    "{bits} is not a multiple of 8 from {MIN_MODULUS_BITS} to {MAX_MODULUS_BITS}"
                ),
            ));
        }
        let key = RsaPrivateKey::new(&mut OsRng, bits)
            .map_err(|e| Error::argument("bits", format!("RSA key generation failed: {e}")))?;
        Ok(AgentKey { key })
    }

    /// Reads a private key stored as DER: PKCS#8 (`PrivateKeyInfo`, what
    /// [`AgentKey::to_pkcs8_der`] writes and `openssl pkcs8 -topk8 -nocrypt
    /// -outform DER` makes) or PKCS#1 (`RSAPrivateKey`, `openssl rsa
    /// -outform DER`). The key must be sound and of a usable size.
    ///
    /// Errors: [`Error::InvalidValue`] (field `private key`) saying why.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let bad = |reason: String| Error::InvalidValue {
            field: "private key".into(),
            reason,
        };
        let key = RsaPrivateKey::from_pkcs8_der(der).or_else(|pkcs8| {
            RsaPrivateKey::from_pkcs1_der(der).map_err(|pkcs1| {
                bad(format!(
                    "not an RSA private key in PKCS#8 DER ({pkcs8}) nor PKCS#1 DER ({pkcs1})"
                ))
            })
        })?;
        key.validate()
            .map_err(|e| bad(format!("not a sound RSA key: {e}")))?;
        let bits = key.n().bits();
        if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
            return Err(bad(format!(
                "{bits} bits; {MIN_MODULUS_BITS} to {MAX_MODULUS_BITS} are supported"
            )));
        }
        Ok(AgentKey { key })
    }

    /// The private key as PKCS#8 DER, to store (as a secret) between runs.
    /// The buffer is zeroized when dropped.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let doc = self.key.to_pkcs8_der().map_err(|e| Error::InvalidValue {
            field: "private key".into(),
            reason: format!("cannot be encoded: {e}"),
        })?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }

    /// The modulus as the service writes it: lower-case hex, no spaces.
    pub fn modulus_hex(&self) -> String {
        encode_hex(&self.key.n().to_bytes_be())
    }

    /// The public exponent as the service writes it: hex digits without
    /// leading zeros (`"10001"`).
    pub fn exponent_hex(&self) -> String {
        let hex = encode_hex(&self.key.e().to_bytes_be());
        let digits = hex.trim_start_matches('0');
        if digits.is_empty() { "0" } else { digits }.to_string()
    }

    /// The public key in v1's form, `{"ModulusHex": ..., "ExponentHex":
    /// "10001"}` (an agent's `PublicKey`).
    pub fn public_key(&self) -> v1::PublicKey {
        v1::PublicKey {
            modulus_hex: HexString::from_bytes(&self.key.n().to_bytes_be()),
            exponent_hex: self.exponent_number(),
        }
    }

    /// The public key in v2's form, `{"modulus": ..., "exponent": "10001"}`
    /// (`rsa_public_key` of agent registration).
    pub fn rsa_public_key(&self) -> v2::agent::RsaPublicKey {
        v2::agent::RsaPublicKey {
            modulus: HexString::from_bytes(&self.key.n().to_bytes_be()),
            exponent: self.exponent_number(),
        }
    }

    fn exponent_number(&self) -> HexNumber {
        // Hex digits only: parsing them cannot fail.
        HexNumber::parse(&self.exponent_hex())
            .unwrap_or_else(|_| HexNumber::from_bytes(&self.key.e().to_bytes_be()))
    }

    /// Decrypts a passphrase the service hands the agent: `EncryptedPassword`
    /// (v1 restores) or `encrypted_password_hex` (v2 events), the hex of an
    /// RSA PKCS#1 v1.5 ciphertext under this key (whitespace and either case
    /// accepted, as everywhere). The passphrase is returned as UTF-8 text,
    /// zeroized when dropped.
    ///
    /// Errors: [`Error::InvalidArgument`] naming `encrypted_password_hex`
    /// for text that is not hex or longer than the modulus;
    /// [`Error::InvalidValue`] (field `encrypted password`) when it does not
    /// decrypt under this key (made for another key, or damaged) or is not
    /// UTF-8.
    pub fn decrypt_password(&self, encrypted_password_hex: &str) -> Result<Zeroizing<String>> {
        let arg = |reason: String| Error::argument("encrypted_password_hex", reason);
        let hex = HexString::parse(encrypted_password_hex).map_err(|e| arg(reason_of(e)))?;
        let mut ciphertext = hex.to_bytes();
        let size = self.key.size();
        if ciphertext.len() > size {
            return Err(arg(format!(
                "is {} bytes; this {}-bit key's ciphertexts are {size}",
                ciphertext.len(),
                self.bits()
            )));
        }
        // Leading zero bytes may have been dropped by the encrypting side.
        if ciphertext.len() < size {
            let mut padded = vec![0u8; size - ciphertext.len()];
            padded.append(&mut ciphertext);
            ciphertext = padded;
        }
        let bad = |reason: &str| Error::InvalidValue {
            field: "encrypted password".into(),
            reason: reason.into(),
        };
        let plain = Zeroizing::new(self.key.decrypt(Pkcs1v15Encrypt, &ciphertext).map_err(
            |_| bad("does not decrypt with this agent's key (made for another key, or damaged)"),
        )?);
        let text = std::str::from_utf8(&plain).map_err(|_| bad("is not UTF-8 text"))?;
        Ok(Zeroizing::new(text.to_string()))
    }

    /// The private exponent's size in bits (for tests of a sound key).
    #[cfg(test)]
    fn private_exponent_bits(&self) -> usize {
        use rsa::traits::PrivateKeyParts;
        self.key.d().bits()
    }
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

    /// One generated agent key for the tests below.
    fn agent_key() -> &'static AgentKey {
        static KEY: OnceLock<AgentKey> = OnceLock::new();
        KEY.get_or_init(|| AgentKey::generate(1024).unwrap())
    }

    #[test]
    fn an_agent_key_decrypts_what_users_encrypt_for_it() {
        let key = agent_key();
        assert_eq!(key.bits(), 1024);
        assert!(key.private_exponent_bits() > 512);
        let public = serde_json::to_value(key.public_key()).unwrap();
        assert_eq!(public["ExponentHex"], "10001");
        let modulus = public["ModulusHex"].as_str().unwrap().to_string();
        assert_eq!(modulus.len(), 256);
        let v2 = serde_json::to_value(key.rsa_public_key()).unwrap();
        assert_eq!(
            (v2["modulus"].as_str(), v2["exponent"].as_str()),
            (Some(modulus.as_str()), Some("10001"))
        );
        for passphrase in ["p", "correct horse battery staple", "pässwörd ✓"] {
            let hex =
                encrypt_password_for_agent(&modulus, &key.exponent_hex(), passphrase).unwrap();
            assert_eq!(key.decrypt_password(&hex).unwrap().as_str(), passphrase);
            // As the samples write hex: upper case, wrapped with spaces.
            let quirky = format!("{} \n {}", &hex[..100].to_uppercase(), &hex[100..]);
            assert_eq!(key.decrypt_password(&quirky).unwrap().as_str(), passphrase);
        }
    }

    #[test]
    fn agent_keys_survive_storage_and_refuse_what_is_not_theirs() {
        let key = agent_key();
        let der = key.to_pkcs8_der().unwrap();
        let again = AgentKey::from_der(&der).unwrap();
        assert_eq!(again.modulus_hex(), key.modulus_hex());
        // PKCS#1 DER too.
        let pkcs1 = {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            key.key.to_pkcs1_der().unwrap()
        };
        assert_eq!(
            AgentKey::from_der(pkcs1.as_bytes()).unwrap().modulus_hex(),
            key.modulus_hex()
        );
        let e = AgentKey::from_der(b"not a key").unwrap_err();
        assert!(
            matches!(&e, Error::InvalidValue { field, .. } if field == "private key"),
            "{e}"
        );
        // Someone else's ciphertext, garbage, a too-long text.
        let other = AgentKey::generate(1024).unwrap();
        let for_other =
            encrypt_password_for_agent(&other.modulus_hex(), "10001", "secret").unwrap();
        let e = key.decrypt_password(&for_other).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidValue { field, .. } if field == "encrypted password"),
            "{e}"
        );
        let e = key.decrypt_password("zz").unwrap_err();
        assert!(err_names(&e, "encrypted_password_hex"), "{e}");
        let e = key.decrypt_password(&"ab".repeat(129)).unwrap_err();
        assert!(e.to_string().contains("129 bytes"), "{e}");
        assert!(AgentKey::generate(1000).is_err());
        assert!(AgentKey::generate(512).is_err());
        assert!(!format!("{key:?}").contains(&key.modulus_hex()[..40]));
    }
}
