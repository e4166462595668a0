//! The agent's half of the vault-password flow (`AgentKey`: an RSA key
//! pair, its public key in the service's form, decryption of
//! `EncryptedPassword` / `encrypted_password_hex`) and the mapping between
//! the service's integer `snapshot_id` and a vault snapshot's hex id: thin
//! wrappers over `cloudbackup_core::engine::AgentKey` and
//! `cloudbackup_core::model::v2::snapshot_id`.

use cloudbackup_core::api::{AgentKey as CoreAgentKey, DEFAULT_AGENT_KEY_BITS};
use cloudbackup_core::model::v2::snapshot_id;
use wasm_bindgen::prelude::*;

use crate::{buffer_arg, given, int_arg, string_arg, to_js, JsResult, MAX_SAFE};

#[wasm_bindgen(typescript_custom_section)]
const TS_AGENT: &'static str = r#"
/** An RSA public key as v1 writes it (an agent's `PublicKey`). */
export interface PublicKeyV1 {
  /** Lower-case hex. */
  ModulusHex: string;
  /** Hex digits without leading zeros, e.g. `"10001"`. */
  ExponentHex: string;
}
/** An RSA public key as v2 writes it (`rsa_public_key` of agent registration). */
export interface RsaPublicKey {
  modulus: string;
  exponent: string;
}
"#;

/// An agent's RSA key pair (the private key is wiped when it is freed).
#[wasm_bindgen]
pub struct AgentKey {
    inner: CoreAgentKey,
}

#[wasm_bindgen]
impl AgentKey {
    /// Generates a key pair of `bits` bits (default 2048; a multiple of 8
    /// from 1024 to 8192), public exponent 0x10001, from
    /// `crypto.getRandomValues`.
    pub fn generate(
        #[wasm_bindgen(unchecked_param_type = "number | null")] bits: Option<JsValue>,
    ) -> JsResult<AgentKey> {
        let bits = match given(bits) {
            None => DEFAULT_AGENT_KEY_BITS,
            // The core checks the size (a multiple of 8 from 1024 to 8192).
            Some(b) => int_arg(&b, "bits", 0, MAX_SAFE)? as usize,
        };
        Ok(AgentKey {
            inner: CoreAgentKey::generate(bits)?,
        })
    }

    /// Reads a private key stored as DER: PKCS#8 (what `toDer()` writes) or
    /// PKCS#1.
    #[wasm_bindgen(js_name = "fromDer")]
    pub fn from_der(
        #[wasm_bindgen(unchecked_param_type = "Bytes")] der: JsValue,
    ) -> JsResult<AgentKey> {
        let der = buffer_arg(&der, "der")?;
        Ok(AgentKey {
            inner: CoreAgentKey::from_der(&der)?,
        })
    }

    /// The private key as PKCS#8 DER, to store as a secret.
    #[wasm_bindgen(js_name = "toDer")]
    pub fn to_der(&self) -> JsResult<Vec<u8>> {
        Ok(self.inner.to_pkcs8_der()?.to_vec())
    }

    /// The modulus size in bits.
    #[wasm_bindgen(getter)]
    pub fn bits(&self) -> usize {
        self.inner.bits()
    }

    /// The public key in v1's form, `{ModulusHex, ExponentHex}`.
    #[wasm_bindgen(js_name = "publicKey", unchecked_return_type = "PublicKeyV1")]
    pub fn public_key(&self) -> JsResult<JsValue> {
        to_js("public key", &self.inner.public_key())
    }

    /// The public key in v2's form, `{modulus, exponent}`.
    #[wasm_bindgen(js_name = "rsaPublicKey", unchecked_return_type = "RsaPublicKey")]
    pub fn rsa_public_key(&self) -> JsResult<JsValue> {
        to_js("public key", &self.inner.rsa_public_key())
    }

    /// Decrypts `EncryptedPassword` (v1) or `encrypted_password_hex` (v2):
    /// hex of an RSA PKCS#1 v1.5 ciphertext under this key (spaces and
    /// either case accepted). Returns the passphrase.
    #[wasm_bindgen(js_name = "decryptPassword")]
    pub fn decrypt_password(
        &self,
        #[wasm_bindgen(js_name = "encryptedPasswordHex", unchecked_param_type = "string")]
        encrypted_password_hex: JsValue,
    ) -> JsResult<String> {
        let hex = string_arg(&encrypted_password_hex, "encryptedPasswordHex")?;
        Ok(self.inner.decrypt_password(&hex)?.to_string())
    }
}

/// The `snapshot_id` an agent reports for a vault snapshot (its hex id, at
/// least 13 digits): the number its first 13 hex digits make (below 2^52,
/// so exact as a JS number).
#[wasm_bindgen(js_name = "snapshotIdFor")]
pub fn snapshot_id_for(
    #[wasm_bindgen(js_name = "vaultSnapshotId", unchecked_param_type = "string")]
    vault_snapshot_id: JsValue,
) -> JsResult<f64> {
    let id = string_arg(&vault_snapshot_id, "vaultSnapshotId")?;
    // Below 2^52: exact as an f64.
    Ok(snapshot_id::snapshot_id_for(&id)? as f64)
}

/// The vault snapshot id prefix (13 hex digits) a service `snapshot_id`
/// stands for; resolve it as any id prefix.
#[wasm_bindgen(js_name = "vaultSnapshotPrefix")]
pub fn vault_snapshot_prefix(
    #[wasm_bindgen(js_name = "snapshotId", unchecked_param_type = "number")] snapshot_id: JsValue,
) -> JsResult<String> {
    // The core checks the range (a negative id is its invalid_value).
    let n = int_arg(&snapshot_id, "snapshotId", -MAX_SAFE, MAX_SAFE)?;
    Ok(snapshot_id::vault_snapshot_prefix(n)?)
}
