//! Test data: bytes that do not compress, from a seed (xorshift64), the same
//! for every test that pins what they chunk or seal to.

/// `n` bytes of xorshift64 output from `seed` (not 0: xorshift stays at 0).
pub(crate) fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
