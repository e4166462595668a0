//! External conformance suites, run through the same code paths the core
//! uses in production.
//!
//! * json-patch-tests (tests.json + spec_tests.json): every case not marked
//!   `disabled` runs through `patch::patch_from_value` + `patch::apply_patch`;
//!   a case with `error` must fail, a case with `expected` must produce it,
//!   and a failed case must leave the document unchanged.
//! * BLAKE3 test vectors: every case through `engine::crypto::{hash,
//!   keyed_hash, derive_key}` (the functions every id and subkey goes through).
//! * Wycheproof AES-GCM: the 256-bit key / 96-bit IV / 128-bit tag group
//!   through `engine::crypto::Aead`, the AEAD of every blob and object, on
//!   each of its backends (native assembly and portable Rust).

use std::path::PathBuf;

use cloudbackup_core::engine::crypto::{self, Aead, AeadBackend, SecretKey, KEY_LEN, NONCE_LEN};
use cloudbackup_core::patch::{apply_patch, patch_from_value};
use serde_json::Value;

fn data(path: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(path);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&bytes).expect("suite file is JSON")
}

fn run_json_patch_case(case: &Value) -> Result<(), String> {
    let doc = case.get("doc").cloned().ok_or("case has no doc")?;
    let mut work = doc.clone();
    let outcome = patch_from_value(case["patch"].clone()).and_then(|p| apply_patch(&mut work, &p));
    match (case.get("error"), case.get("expected"), outcome) {
        (Some(_), _, Err(_)) if work == doc => Ok(()),
        (Some(_), _, Err(_)) => Err("failed but changed the document".into()),
        (Some(why), _, Ok(())) => Err(format!("should have failed: {why}")),
        (None, Some(expected), Ok(())) if &work == expected => Ok(()),
        (None, Some(expected), Ok(())) => Err(format!("got {work}, expected {expected}")),
        (None, None, Ok(())) => Ok(()),
        (None, _, Err(e)) => Err(format!("unexpected error: {e}")),
    }
}

#[test]
fn json_patch_tests() {
    let (mut passed, mut failed) = (0, 0);
    let mut failures = Vec::new();
    for file in [
        "json-patch-tests/tests.json",
        "json-patch-tests/spec_tests.json",
    ] {
        let Value::Array(cases) = data(file) else {
            panic!("{file} is not a list")
        };
        for case in cases
            .iter()
            .filter(|c| c.get("disabled") != Some(&Value::Bool(true)))
        {
            match run_json_patch_case(case) {
                Ok(()) => passed += 1,
                Err(why) => {
                    failed += 1;
                    failures.push(format!(
                        "{file}: {}: {why}",
                        case.get("comment").unwrap_or(&Value::Null)
                    ));
                }
            }
        }
    }
    println!("json-patch-tests: {passed} passed, {failed} failed");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(passed, 108, "the suite has 108 enabled cases");
}

/// Decodes lower- or upper-case hex (the suites' encoding); `None` when it is not hex.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The string field `name` of a suite record.
fn field<'a>(case: &'a Value, name: &str) -> Result<&'a str, String> {
    case.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no string field {name:?}"))
}

/// The hex field `name` of a suite record, decoded.
fn hex_field(case: &Value, name: &str) -> Result<Vec<u8>, String> {
    unhex(field(case, name)?).ok_or_else(|| format!("field {name:?} is not hex"))
}

/// One BLAKE3 mode of one case: the first 32 bytes through the engine's
/// function, the whole extended output through `blake3::Hasher`'s XOF (the
/// engine exposes no XOF of its own, so this part checks the crate it uses).
fn check_blake3_mode(
    mode: &str,
    expected: &[u8],
    ours: [u8; 32],
    mut hasher: blake3::Hasher,
    input: &[u8],
) -> Result<(), String> {
    if expected.get(..32) != Some(&ours[..]) {
        return Err(format!("{mode}: 32-byte output differs"));
    }
    let mut extended = vec![0u8; expected.len()];
    hasher.update(input).finalize_xof().fill(&mut extended);
    if extended != expected {
        return Err(format!(
            "{mode}: {}-byte extended output differs",
            expected.len()
        ));
    }
    Ok(())
}

/// One BLAKE3 case; it passes only when hash, keyed_hash and derive_key all do.
fn run_blake3_case(case: &Value, key: &[u8; KEY_LEN], context: &str) -> Result<(), String> {
    let len = case
        .get("input_len")
        .and_then(Value::as_u64)
        .ok_or("no input_len")?;
    // The suite's input: the bytes 0, 1, ..., 250 repeated.
    let input: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    check_blake3_mode(
        "hash",
        &hex_field(case, "hash")?,
        crypto::hash(&input),
        blake3::Hasher::new(),
        &input,
    )?;
    check_blake3_mode(
        "keyed_hash",
        &hex_field(case, "keyed_hash")?,
        crypto::keyed_hash(&SecretKey::from_bytes(*key), &input),
        blake3::Hasher::new_keyed(key),
        &input,
    )?;
    check_blake3_mode(
        "derive_key",
        &hex_field(case, "derive_key")?,
        crypto::derive_key(context, &input),
        blake3::Hasher::new_derive_key(context),
        &input,
    )
}

#[test]
fn blake3_vectors() {
    let suite = data("blake3/test_vectors.json");
    let key: [u8; KEY_LEN] = field(&suite, "key")
        .expect("suite key")
        .as_bytes()
        .try_into()
        .expect("the suite's key is 32 ASCII bytes");
    let context = field(&suite, "context_string").expect("suite context");
    let Some(Value::Array(cases)) = suite.get("cases") else {
        panic!("blake3 suite has no cases")
    };
    let (mut passed, mut failed) = (0, 0);
    let mut failures = Vec::new();
    for case in cases {
        match run_blake3_case(case, &key, context) {
            Ok(()) => passed += 1,
            Err(why) => {
                failed += 1;
                failures.push(format!("input_len {}: {why}", case["input_len"]));
            }
        }
    }
    println!("blake3 vectors: {passed} passed, {failed} failed");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(passed, 35, "the suite has 35 cases");
}

/// One Wycheproof AEAD case. "valid" must encrypt to `ct || tag` and decrypt
/// to `msg`; "invalid" must fail to open; "acceptable" (legal but weak; the
/// 256/96/128 group has none) is held to the "valid" standard, since our AEAD
/// has no reason to refuse anything standard AES-GCM accepts.
fn run_aes_gcm_case(case: &Value, backend: AeadBackend) -> Result<(), String> {
    let key: [u8; KEY_LEN] = hex_field(case, "key")?
        .try_into()
        .map_err(|_| "key is not 32 bytes")?;
    let nonce: [u8; NONCE_LEN] = hex_field(case, "iv")?
        .try_into()
        .map_err(|_| "iv is not 12 bytes")?;
    let (aad, msg) = (hex_field(case, "aad")?, hex_field(case, "msg")?);
    let mut sealed = hex_field(case, "ct")?;
    sealed.extend_from_slice(&hex_field(case, "tag")?);
    let aead = Aead::with_backend(&SecretKey::from_bytes(key), backend);
    let opened = aead.open(&nonce, &aad, &sealed);
    match field(case, "result")? {
        "valid" | "acceptable" => {
            let mut ours = Vec::new();
            aead.seal_into(&nonce, &aad, &msg, &mut ours)
                .map_err(|e| format!("seal failed: {e}"))?;
            if ours != sealed {
                return Err("encrypts to a different ct || tag".into());
            }
            match opened {
                Some(plain) if plain == msg => Ok(()),
                Some(_) => Err("decrypts to a different msg".into()),
                None => Err("a valid ciphertext failed to open".into()),
            }
        }
        "invalid" => match opened {
            None => Ok(()),
            Some(_) => Err("an invalid ciphertext opened".into()),
        },
        other => Err(format!("unknown result {other:?}")),
    }
}

#[test]
fn wycheproof_aes_gcm() {
    // Both run on native targets: the assembly and the portable Rust.
    #[cfg(not(target_arch = "wasm32"))]
    assert!(AeadBackend::ALL.contains(&AeadBackend::Native));
    for &backend in AeadBackend::ALL {
        wycheproof_aes_gcm_with(backend);
    }
}

fn wycheproof_aes_gcm_with(backend: AeadBackend) {
    let suite = data("wycheproof/aes_gcm_test.json");
    let Some(Value::Array(groups)) = suite.get("testGroups") else {
        panic!("wycheproof suite has no testGroups")
    };
    let size = |g: &Value, name: &str| g.get(name).and_then(Value::as_u64);
    let (mut passed, mut failed) = (0, 0);
    let mut failures = Vec::new();
    for group in groups.iter().filter(|g| {
        size(g, "keySize") == Some(256)
            && size(g, "ivSize") == Some(96)
            && size(g, "tagSize") == Some(128)
    }) {
        let Some(Value::Array(cases)) = group.get("tests") else {
            panic!("a test group has no tests")
        };
        for case in cases {
            match run_aes_gcm_case(case, backend) {
                Ok(()) => passed += 1,
                Err(why) => {
                    failed += 1;
                    failures.push(format!("tcId {}: {why}", case["tcId"]));
                }
            }
        }
    }
    println!("wycheproof aes-gcm ({backend:?}): {passed} passed, {failed} failed");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        passed, 66,
        "{backend:?}: the 256-bit key, 96-bit IV, 128-bit tag group has 66 cases"
    );
}
