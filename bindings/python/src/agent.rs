//! The agent's half of the vault-password flow (`AgentKey`: an RSA key
//! pair, its public key in the service's form, decryption of
//! `EncryptedPassword` / `encrypted_password_hex`) and the mapping between
//! the service's integer `snapshot_id` and a vault snapshot's hex id: thin
//! wrappers over `cloudbackup_core::engine::AgentKey` and
//! `cloudbackup_core::model::v2::snapshot_id`.

use cloudbackup_core::api::{AgentKey, DEFAULT_AGENT_KEY_BITS};
use cloudbackup_core::model::v2::snapshot_id;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::PyResultCb;
use crate::input::bytes_in;
use crate::value::to_py;

/// An agent's RSA key pair (the private key is wiped when it is dropped).
#[pyclass(module = "cloudbackup._native", name = "AgentKey", frozen)]
pub struct NativeAgentKey {
    key: AgentKey,
}

// The signature below spells the default out (so the text signature, and
// stubtest, see 2048 rather than `...`); it is the core's default.
const _: () = assert!(DEFAULT_AGENT_KEY_BITS == 2048);

#[pymethods]
impl NativeAgentKey {
    /// Generates a key pair of `bits` bits (a multiple of 8 from 1024 to
    /// 8192) with public exponent 0x10001. Releases the GIL meanwhile.
    #[staticmethod]
    #[pyo3(signature = (bits=2048))]
    fn generate(py: Python<'_>, bits: usize) -> PyResultCb<Self> {
        let key = py.detach(|| AgentKey::generate(bits))?;
        Ok(NativeAgentKey { key })
    }

    /// Reads a private key stored as DER (bytes-like): PKCS#8, as `to_der`
    /// writes it, or PKCS#1.
    #[staticmethod]
    fn from_der(der: &Bound<'_, PyAny>) -> PyResultCb<Self> {
        let der = bytes_in(der, "der")?;
        Ok(NativeAgentKey {
            key: AgentKey::from_der(der.as_slice())?,
        })
    }

    /// The private key as PKCS#8 DER, to store as a secret.
    fn to_der<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyBytes>> {
        let der = self.key.to_pkcs8_der()?;
        Ok(PyBytes::new(py, &der))
    }

    /// The modulus size in bits.
    #[getter]
    fn bits(&self) -> usize {
        self.key.bits()
    }

    /// The public key in v1's form, `{"ModulusHex", "ExponentHex"}`.
    fn public_key<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        to_py(py, "public key", &self.key.public_key())
    }

    /// The public key in v2's form, `{"modulus", "exponent"}`.
    fn rsa_public_key<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        to_py(py, "public key", &self.key.rsa_public_key())
    }

    /// Decrypts `EncryptedPassword` / `encrypted_password_hex` (hex, spaces
    /// and either case accepted) into the passphrase.
    fn decrypt_password(&self, encrypted_password_hex: &str) -> PyResultCb<String> {
        Ok(self
            .key
            .decrypt_password(encrypted_password_hex)?
            .to_string())
    }

    fn __repr__(&self) -> String {
        format!("<AgentKey {} bits>", self.key.bits())
    }
}

/// The `snapshot_id` an agent reports for a vault snapshot (its hex id):
/// the number its first 13 hex digits make.
#[pyfunction]
fn snapshot_id_for(vault_snapshot_id: &str) -> PyResultCb<i64> {
    Ok(snapshot_id::snapshot_id_for(vault_snapshot_id)?)
}

/// The vault snapshot id prefix (13 hex digits) a service `snapshot_id`
/// stands for.
#[pyfunction]
fn vault_snapshot_prefix(snapshot_id: i64) -> PyResultCb<String> {
    Ok(snapshot_id::vault_snapshot_prefix(snapshot_id)?)
}

/// Adds this file's class and functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeAgentKey>()?;
    m.add_function(wrap_pyfunction!(snapshot_id_for, m)?)?;
    m.add_function(wrap_pyfunction!(vault_snapshot_prefix, m)?)?;
    Ok(())
}
