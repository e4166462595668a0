//! The cryptographic primitives every vault object uses: BLAKE3 (plain,
//! keyed and `derive_key`), AES-256-GCM with 96-bit nonces and 128-bit tags,
//! and the system random number generator. Everything else in the engine goes
//! through these functions, so the conformance suites test the real paths.

use std::fmt;

use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::wire::encode_hex;
use crate::{Error, Result};

/// Bytes in a key (AES-256, keyed BLAKE3).
pub const KEY_LEN: usize = 32;
/// Bytes in an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Bytes in an AES-GCM tag.
pub const TAG_LEN: usize = 16;

/// A 256-bit secret, wiped from memory when dropped and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// Wraps key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        SecretKey(bytes)
    }

    /// A fresh random key.
    pub fn random() -> Result<Self> {
        let mut k = [0u8; KEY_LEN];
        random_bytes(&mut k)?;
        let key = SecretKey(k);
        k.zeroize();
        Ok(key)
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// BLAKE3 `derive_key` of a subkey for `context` from this key.
    pub fn derive(&self, context: &str) -> SecretKey {
        SecretKey(derive_key(context, &self.0))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Fills `buf` from the operating system's random number generator.
pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buf).map_err(|e| Error::InvalidValue {
        field: "random number generator".into(),
        reason: e.to_string(),
    })
}

/// A fresh random nonce.
pub fn random_nonce() -> Result<[u8; NONCE_LEN]> {
    let mut n = [0u8; NONCE_LEN];
    random_bytes(&mut n)?;
    Ok(n)
}

/// Plain BLAKE3 of `data`.
pub fn hash(data: &[u8]) -> [u8; 32] {
    *blake3::hash(data).as_bytes()
}

/// Keyed BLAKE3 (a MAC / PRF) of `data` under `key`.
pub fn keyed_hash(key: &SecretKey, data: &[u8]) -> [u8; 32] {
    *blake3::keyed_hash(key.as_bytes(), data).as_bytes()
}

/// BLAKE3 `derive_key`: a 32-byte key for `context` from `material`.
pub fn derive_key(context: &str, material: &[u8]) -> [u8; 32] {
    blake3::derive_key(context, material)
}

/// A content id: 32 bytes of (keyed) BLAKE3, shown as lower-case hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub [u8; 32]);

impl Id {
    /// Parses 64 hex digits.
    pub fn parse(hex: &str) -> Result<Self> {
        Self::parse_named("id", hex)
    }

    /// Parses 64 hex digits given as argument `field` (a bundle id, a
    /// snapshot id...): [`Error::InvalidValue`] naming `field` otherwise.
    /// Every binding parses id arguments with this, so all answer alike.
    pub fn parse_named(field: &str, hex: &str) -> Result<Self> {
        let bad = || Error::InvalidValue {
            field: field.into(),
            reason: format!("{hex:?} is not 64 hex digits"),
        };
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(Id(out))
    }

    /// The id as 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }

    /// The first 8 hex digits, for messages.
    pub fn short(&self) -> String {
        encode_hex(&self.0[..4])
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Id::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The implementations of AES-256-GCM behind [`Aead`]: the same function
/// (byte for byte, the Wycheproof suite runs on each), at different speeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadBackend {
    /// ring's, i.e. BoringSSL's assembly: VAES/AES-NI with carry-less
    /// multiplication where the CPU has them, several times the portable
    /// speed. Native targets only.
    #[cfg(not(target_arch = "wasm32"))]
    Native,
    /// RustCrypto's `aes-gcm`: Rust, with AES-NI/CLMUL intrinsics on x86 and
    /// a constant-time software AES elsewhere. The only one on wasm32.
    Portable,
}

impl AeadBackend {
    /// What [`Aead::new`] uses on this target.
    #[cfg(not(target_arch = "wasm32"))]
    pub const DEFAULT: AeadBackend = AeadBackend::Native;
    /// What [`Aead::new`] uses on this target.
    #[cfg(target_arch = "wasm32")]
    pub const DEFAULT: AeadBackend = AeadBackend::Portable;

    /// Every backend this target has, for tests and benchmarks.
    pub const ALL: &'static [AeadBackend] = &[
        #[cfg(not(target_arch = "wasm32"))]
        AeadBackend::Native,
        AeadBackend::Portable,
    ];
}

/// AES-256-GCM with 96-bit nonces and 128-bit tags.
#[derive(Clone)]
pub struct Aead {
    cipher: Cipher,
}

/// The key schedule of one backend.
#[derive(Clone)]
enum Cipher {
    // Boxed, both: key schedules of some hundred bytes (RustCrypto's keeps
    // a software one beside the AES-NI one), moved about with every `Aead`.
    #[cfg(not(target_arch = "wasm32"))]
    Native(Box<ring::aead::LessSafeKey>),
    Portable(Box<Aes256Gcm>),
}

impl fmt::Debug for Aead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Aead(..)")
    }
}

/// The error of a seal that AES-GCM cannot do (over 2^36 - 32 bytes).
fn too_long() -> Error {
    Error::InvalidArgument {
        name: "plaintext".into(),
        reason: "too long for AES-GCM".into(),
    }
}

impl Aead {
    /// A cipher under `key`, with this target's fastest backend.
    pub fn new(key: &SecretKey) -> Self {
        Self::with_backend(key, AeadBackend::DEFAULT)
    }

    /// A cipher under `key` with a given backend: for the tests that hold
    /// every backend to the same vectors, and for benchmarks.
    pub fn with_backend(key: &SecretKey, backend: AeadBackend) -> Self {
        let portable = || Cipher::Portable(Box::new(Aes256Gcm::new(key.as_bytes().into())));
        let cipher = match backend {
            #[cfg(not(target_arch = "wasm32"))]
            AeadBackend::Native => {
                // ring refuses only a key of another length, which a
                // `[u8; 32]` cannot be; were it ever to refuse, the portable
                // backend computes the same function.
                match ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key.as_bytes()) {
                    Ok(k) => Cipher::Native(Box::new(ring::aead::LessSafeKey::new(k))),
                    Err(_) => portable(),
                }
            }
            AeadBackend::Portable => portable(),
        };
        Aead { cipher }
    }

    /// The backend this cipher runs on.
    pub fn backend(&self) -> AeadBackend {
        match self.cipher {
            #[cfg(not(target_arch = "wasm32"))]
            Cipher::Native(_) => AeadBackend::Native,
            Cipher::Portable(_) => AeadBackend::Portable,
        }
    }

    /// Encrypts `plaintext` and appends `ciphertext || tag` to `out`.
    pub fn seal_into(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let start = out.len();
        out.extend_from_slice(plaintext);
        self.seal_in_place(nonce, aad, out, start)
    }

    /// Encrypts `buf[start..]` in place and appends the tag: no copy of the
    /// plaintext (the bulk path for blobs).
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut Vec<u8>,
        start: usize,
    ) -> Result<()> {
        let body = buf
            .get_mut(start..)
            .ok_or_else(|| Error::argument("start", "past the end of the buffer"))?;
        let tag: [u8; TAG_LEN] = match &self.cipher {
            #[cfg(not(target_arch = "wasm32"))]
            Cipher::Native(key) => {
                let tag = key
                    .seal_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key(*nonce),
                        ring::aead::Aad::from(aad),
                        body,
                    )
                    .map_err(|_| too_long())?;
                let mut out = [0; TAG_LEN];
                out.copy_from_slice(tag.as_ref());
                out
            }
            Cipher::Portable(cipher) => cipher
                .encrypt_inout_detached(&(*nonce).into(), aad, body.into())
                .map_err(|_| too_long())?
                .into(),
        };
        buf.extend_from_slice(&tag);
        Ok(())
    }

    /// Checks the tag of `ciphertext || tag` and returns the plaintext;
    /// `None` when the tag does not verify (wrong key, changed bytes, wrong
    /// AAD or truncation). Nothing unauthenticated is ever returned.
    pub fn open(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let body_len = sealed.len().checked_sub(TAG_LEN)?;
        let (body, tag) = sealed.split_at(body_len);
        let mut buf = body.to_vec();
        match &self.cipher {
            #[cfg(not(target_arch = "wasm32"))]
            Cipher::Native(key) => {
                key.open_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(*nonce),
                    ring::aead::Aad::from(aad),
                    ring::aead::Tag::try_from(tag).ok()?,
                    &mut buf,
                    0..,
                )
                .ok()?;
            }
            Cipher::Portable(cipher) => {
                let tag: [u8; TAG_LEN] = tag.try_into().ok()?;
                cipher
                    .decrypt_inout_detached(
                        &(*nonce).into(),
                        aad,
                        buf.as_mut_slice().into(),
                        &tag.into(),
                    )
                    .ok()?
            }
        }
        Some(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_and_every_tamper_fails() {
        for &backend in AeadBackend::ALL {
            seal_then_open_and_every_tamper_fails_with(backend);
        }
    }

    fn seal_then_open_and_every_tamper_fails_with(backend: AeadBackend) {
        let aead = Aead::with_backend(&SecretKey::from_bytes([7; 32]), backend);
        assert_eq!(aead.backend(), backend);
        let nonce = [1; NONCE_LEN];
        let mut sealed = Vec::new();
        aead.seal_into(&nonce, b"aad", b"hello", &mut sealed)
            .unwrap();
        assert_eq!(sealed.len(), 5 + TAG_LEN);
        assert_eq!(aead.open(&nonce, b"aad", &sealed).unwrap(), b"hello");
        assert!(aead.open(&nonce, b"aaD", &sealed).is_none());
        assert!(aead.open(&[2; NONCE_LEN], b"aad", &sealed).is_none());
        assert!(aead
            .open(&nonce, b"aad", &sealed[..sealed.len() - 1])
            .is_none());
        assert!(aead.open(&nonce, b"aad", &sealed[..3]).is_none());
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x80;
            assert!(aead.open(&nonce, b"aad", &t).is_none(), "byte {i}");
        }
    }

    #[test]
    fn the_backends_seal_alike_and_open_each_other() {
        let key = SecretKey::from_bytes([3; 32]);
        let ciphers: Vec<Aead> = AeadBackend::ALL
            .iter()
            .map(|&b| Aead::with_backend(&key, b))
            .collect();
        // Every tail length around the 16-byte block and the assembly's
        // wider strides (up to 8 blocks at once), then one large message.
        let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let lengths = (0..=300).chain([1023, 1024, 1025, 4097, 70_000]);
        for (i, len) in lengths.enumerate() {
            let nonce = [i as u8; NONCE_LEN];
            let aad = &data[..i % 40];
            let sealed: Vec<Vec<u8>> = ciphers
                .iter()
                .map(|c| {
                    let mut out = Vec::new();
                    c.seal_into(&nonce, aad, &data[..len], &mut out).unwrap();
                    out
                })
                .collect();
            for (c, s) in ciphers.iter().zip(&sealed) {
                assert_eq!(s, &sealed[0], "{:?}, length {len}", c.backend());
                for other in &ciphers {
                    assert_eq!(other.open(&nonce, aad, s).as_deref(), Some(&data[..len]));
                }
            }
        }
    }

    #[test]
    fn ids_parse_and_print_as_hex() {
        let id = Id(hash(b"abc"));
        assert_eq!(Id::parse(&id.to_hex()).unwrap(), id);
        assert_eq!(
            id.to_hex(),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert!(Id::parse("zz").is_err());
        assert!(Id::parse(&"g".repeat(64)).is_err());
    }

    #[test]
    fn keys_do_not_print() {
        assert_eq!(
            format!("{:?}", SecretKey::from_bytes([9; 32])),
            "SecretKey(..)"
        );
    }
}
