//! The passphrase encrypted for an agent (RSA PKCS#1 v1.5).
