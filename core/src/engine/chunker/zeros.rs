//! Runs of zero bytes (the holes of sparse files) without their bytes.
//!
//! Over zeros the gear hash forgets where it started: each byte pair maps
//! `h` to `4h + 3·gear[0]`, so after 32 pairs (64 bytes) it sits at the
//! fixed point `-gear[0]` whatever came before. From a chunk boundary inside
//! a zero run, then, the search either cuts in the first few dozen pairs of
//! a mask region or never in that region: every chunk that starts in the run
//! and ends before it does has one length, found once by following the
//! search a few dozen steps. Only the chunk in progress when the run starts
//! and the run's tail (each below one maximum chunk) are searched byte by
//! byte, so the work does not grow with the run.

use super::{Chunker, Gear};
use crate::Result;

/// Zeros fed to the ordinary search; the statics of this size cost nothing
/// (zero-initialised memory) and keep each `push` short.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// How a chunk that starts in a run of zeros is cut while the run lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ZeroCut {
    /// The chunk's length.
    pub(super) len: usize,
    /// How many zeros the search must see to cut there: from this many on
    /// the cut does not depend on what follows the run.
    pub(super) need: usize,
}

impl Gear {
    /// Follows `search` over a new chunk made only of zeros, of at least
    /// `need` bytes: the same byte pairs from `min / 2`, the same masks.
    pub(super) fn zero_cut(&self) -> ZeroCut {
        let [mask_s, mask_l, mask_s_ls, mask_l_ls] = self.masks;
        let (g, g_ls) = (self.table[0], self.table_ls[0]);
        let end = self.max / 2;
        let mut pair = self.min / 2;
        let mut hash = 0u64;
        let split = (self.avg / 2).clamp(pair, end.max(pair));
        for (to, m_ls, m) in [(split, mask_s_ls, mask_s), (end, mask_l_ls, mask_l)] {
            while pair < to {
                let before = hash;
                hash = (hash << 2).wrapping_add(g_ls);
                if hash & m_ls == 0 {
                    return ZeroCut {
                        len: 2 * pair,
                        need: 2 * pair + 2,
                    };
                }
                hash = hash.wrapping_add(g);
                if hash & m == 0 {
                    return ZeroCut {
                        len: 2 * pair + 1,
                        need: 2 * pair + 2,
                    };
                }
                pair += 1;
                if hash == before {
                    // The fixed point: every later pair under these masks
                    // repeats this one, which did not cut.
                    pair = to;
                }
            }
        }
        ZeroCut {
            len: self.max,
            need: self.max,
        }
    }
}

impl Chunker {
    /// Feeds `n` zero bytes: the same chunks as [`push`](Self::push) of
    /// them, but each chunk made only of these zeros goes to `emit_zeros`
    /// as its length, without bytes. The work is bounded by about two
    /// maximum chunks of searching however long the run. After an error
    /// from a callback the chunker's state is unspecified: start over.
    pub fn push_zeros(
        &mut self,
        n: u64,
        emit: &mut impl FnMut(&[u8]) -> Result<()>,
        emit_zeros: &mut impl FnMut(usize) -> Result<()>,
    ) -> Result<()> {
        // The chunk in progress holds earlier bytes: the ordinary search
        // ends it (within one maximum chunk). A cut can fall just before
        // the run (a pair is examined once both its bytes are there), so
        // the new chunk is known to be zeros only once the bytes held are
        // no more than the zeros fed.
        let mut fed = 0u64;
        while fed < n && self.pending() as u64 > fed {
            let piece = (n - fed).min(ZEROS.len() as u64) as usize;
            self.push(&ZEROS[..piece], emit)?;
            fed += piece as u64;
        }
        if self.pending() as u64 > fed {
            return Ok(());
        }
        let cut = self.gear.zero_cut();
        let mut run = self.pending() as u64 + (n - fed);
        if run >= cut.need as u64 {
            // The zeros held so far are dropped and counted in `run`: the
            // search over them starts again from the chunk's start below.
            self.reset();
            while run >= cut.need as u64 {
                emit_zeros(cut.len)?;
                run -= cut.len as u64;
            }
        } else {
            run = n - fed;
        }
        // The tail, shorter than `need`: the next chunk starts with it.
        while run > 0 {
            let piece = run.min(ZEROS.len() as u64) as usize;
            self.push(&ZEROS[..piece], emit)?;
            run -= piece as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::ChunkerParams;
    use super::*;
    use crate::engine::crypto::SecretKey;
    use proptest::prelude::*;

    use super::super::tests::small;

    fn odd() -> ChunkerParams {
        ChunkerParams {
            min_size: 1001,
            avg_size: 3001,
            max_size: 9999,
        }
    }

    /// One piece of a file: bytes, or a run of zeros.
    #[derive(Debug, Clone)]
    enum Piece {
        Data(Vec<u8>),
        Zeros(u64),
    }

    /// A chunk: its bytes, or (from `emit_zeros`) its length.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Out {
        Bytes(Vec<u8>),
        Zeros(usize),
    }

    impl Out {
        fn dense(&self) -> Vec<u8> {
            match self {
                Out::Bytes(b) => b.clone(),
                Out::Zeros(n) => vec![0; *n],
            }
        }
    }

    fn with_zeros(c: &mut Chunker, pieces: &[Piece]) -> Vec<Out> {
        let out = std::cell::RefCell::new(Vec::new());
        let mut emit = |b: &[u8]| {
            out.borrow_mut().push(Out::Bytes(b.to_vec()));
            Ok(())
        };
        let mut emit_zeros = |n: usize| {
            out.borrow_mut().push(Out::Zeros(n));
            Ok(())
        };
        for p in pieces {
            match p {
                Piece::Data(d) => c.push(d, &mut emit).unwrap(),
                Piece::Zeros(n) => c.push_zeros(*n, &mut emit, &mut emit_zeros).unwrap(),
            }
        }
        c.finish(&mut emit).unwrap();
        out.into_inner()
    }

    fn dense(c: &mut Chunker, pieces: &[Piece]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut emit = |b: &[u8]| {
            out.push(b.to_vec());
            Ok(())
        };
        for p in pieces {
            match p {
                Piece::Data(d) => c.push(d, &mut emit).unwrap(),
                Piece::Zeros(n) => c.push(&vec![0; *n as usize], &mut emit).unwrap(),
            }
        }
        c.finish(&mut emit).unwrap();
        out
    }

    /// The first chunk the ordinary search cuts from `zeros` zero bytes
    /// (`None`: it waits for more): the reference for `zero_cut`.
    fn searched(params: ChunkerParams, key: &SecretKey, zeros: usize) -> Option<usize> {
        let mut c = Chunker::new(params, key).unwrap();
        let mut first = None;
        c.push(&vec![0u8; zeros], &mut |b| {
            first = first.or(Some(b.len()));
            Ok(())
        })
        .unwrap();
        first
    }

    /// Keys whose gear tables cut zero runs in each way: in the first pairs
    /// (before the fixed point), at the fixed point under the large mask
    /// only, under both, and never (the maximum chunk).
    fn keys_of_each_kind(params: ChunkerParams) -> Vec<SecretKey> {
        let mut kinds: [Option<SecretKey>; 4] = Default::default();
        for i in 0u32..200_000 {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_le_bytes());
            let key = SecretKey::from_bytes(k);
            let c = Chunker::new(params, &key).unwrap();
            let g = &c.gear;
            let [s, l, ..] = g.masks;
            let fixed = g.table[0].wrapping_neg();
            let cut = g.zero_cut();
            // Transient cuts come in the first 32 pairs, before the hash
            // reaches its fixed point (a mask's bits see the fixed point's
            // some pairs before that).
            let kind = if cut.len == g.max {
                3
            } else if fixed & s == 0 {
                2
            } else if cut.len < g.min + 62 {
                0
            } else if fixed & l == 0 && cut.len + 2 >= g.avg {
                1
            } else {
                continue;
            };
            if kinds[kind].is_none() {
                kinds[kind] = Some(key);
            }
            if kinds.iter().all(Option::is_some) {
                break;
            }
        }
        kinds.into_iter().flatten().collect()
    }

    #[test]
    fn zero_cut_matches_the_search_for_every_kind_of_table() {
        for params in [small(), odd()] {
            let keys = keys_of_each_kind(params);
            assert_eq!(keys.len(), 4, "{params:?}");
            for key in keys {
                let cut = Chunker::new(params, &key).unwrap().gear.zero_cut();
                assert_eq!(
                    searched(params, &key, cut.need),
                    Some(cut.len),
                    "{params:?}"
                );
                // One zero fewer than `need` and the search waits.
                assert_eq!(searched(params, &key, cut.need - 1), None, "{params:?}");
            }
        }
    }

    #[test]
    fn a_run_of_a_gigabyte_takes_no_time() {
        let key = SecretKey::from_bytes([3; 32]);
        let mut c = Chunker::new(ChunkerParams::default(), &key).unwrap();
        let started = std::time::Instant::now();
        let mut zero_chunks = 0u64;
        let mut other = 0u64;
        c.push(b"head", &mut |_| Ok(())).unwrap();
        c.push_zeros(
            1 << 32,
            &mut |b| {
                other += b.len() as u64;
                Ok(())
            },
            &mut |n| {
                zero_chunks += n as u64;
                Ok(())
            },
        )
        .unwrap();
        c.finish(&mut |b| {
            other += b.len() as u64;
            Ok(())
        })
        .unwrap();
        assert_eq!(zero_chunks + other, (1 << 32) + 4);
        assert!(other < 3 * 8 * 1024 * 1024, "{other}");
        // Two maximum chunks searched byte by byte at most: well under a
        // second even in a debug build, where 4 GiB would take minutes.
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    }

    fn piece() -> impl Strategy<Value = Piece> {
        prop_oneof![
            (0usize..3000, any::<u64>())
                .prop_map(|(n, seed)| { Piece::Data(crate::engine::noise::noise(seed | 1, n)) }),
            // Zeros as data: zero runs that arrive as bytes.
            (0usize..2000).prop_map(|n| Piece::Data(vec![0; n])),
            (0u64..70).prop_map(Piece::Zeros),
            (900u64..1100).prop_map(Piece::Zeros),
            (3900u64..4200).prop_map(Piece::Zeros),
            (9900u64..10_100).prop_map(Piece::Zeros),
            (16_300u64..16_500).prop_map(Piece::Zeros),
            (0u64..100_000).prop_map(Piece::Zeros),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn zero_runs_cut_like_their_bytes(
            pieces in proptest::collection::vec(piece(), 0..12),
            params in prop_oneof![Just(small()), Just(odd())],
            kind in 0usize..5,
        ) {
            // The four kinds of zero cut, and an ordinary key.
            let key = keys_of_each_kind_cached(params).get(kind).cloned()
                .unwrap_or_else(|| SecretKey::from_bytes([9; 32]));
            let want = dense(&mut Chunker::new(params, &key).unwrap(), &pieces);
            let got = with_zeros(&mut Chunker::new(params, &key).unwrap(), &pieces);
            let got_dense: Vec<Vec<u8>> = got.iter().map(Out::dense).collect();
            prop_assert_eq!(got_dense, want);
            // Zero chunks carry no bytes only when they are whole zeros.
            for o in &got {
                if let Out::Zeros(n) = o {
                    prop_assert!(*n > 0);
                }
            }
        }
    }

    fn keys_of_each_kind_cached(params: ChunkerParams) -> Vec<SecretKey> {
        use std::sync::OnceLock;
        static SMALL: OnceLock<Vec<SecretKey>> = OnceLock::new();
        static ODD: OnceLock<Vec<SecretKey>> = OnceLock::new();
        let cell = if params == small() { &SMALL } else { &ODD };
        cell.get_or_init(|| keys_of_each_kind(params)).clone()
    }
}
