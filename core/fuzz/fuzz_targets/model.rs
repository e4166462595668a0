//! Fuzz target `model`: the bytes go to `cloudbackup_core::fuzzing::model`
//! (see that function for the input layout). An `Err` is the expected
//! answer to bad input; only a panic, a sanitizer report, a timeout or an
//! out-of-memory is a finding.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = cloudbackup_core::fuzzing::model(data);
});
