//! Exposes PyO3's `Py_3_*` cfgs for the Python the module is built for:
//! `Py_3_11` gates the buffer protocol, which the stable ABI has only from
//! 3.11 (see Cargo.toml).

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
