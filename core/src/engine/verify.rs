//! Vault verification.
