//! Streaming content-defined chunking: FastCDC 2020 (the cut points of the
//! `fastcdc` crate's `cut_gear`, with its masks) over a secret, per-vault gear
//! table, so chunk boundaries (and so chunk sizes) reveal nothing to someone
//! without the key. The search is resumable, so every byte is examined once
//! however the bytes arrive, and memory stays below one maximum chunk.

use fastcdc::v2020::{logarithm2, MASKS};
use serde::{Deserialize, Serialize};

use super::crypto::SecretKey;
use crate::{Error, Result};

/// Chunk size bounds of a vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    /// Smallest chunk, except a file's last.
    pub min_size: u32,
    /// Target average chunk size (a power of two works best).
    pub avg_size: u32,
    /// Largest chunk.
    pub max_size: u32,
}

impl Default for ChunkerParams {
    /// 512 KiB / 1 MiB / 8 MiB.
    fn default() -> Self {
        ChunkerParams {
            min_size: 512 * 1024,
            avg_size: 1024 * 1024,
            max_size: 8 * 1024 * 1024,
        }
    }
}

impl ChunkerParams {
    /// Checks the bounds against FastCDC 2020's limits and each other.
    pub fn validate(&self) -> Result<()> {
        use fastcdc::v2020::{
            AVERAGE_MAX, AVERAGE_MIN, MAXIMUM_MAX, MAXIMUM_MIN, MINIMUM_MAX, MINIMUM_MIN,
        };
        let check = |name: &str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(Error::argument(name, format!("{v} is outside {lo}..={hi}")))
            }
        };
        check("min_size", self.min_size, MINIMUM_MIN, MINIMUM_MAX)?;
        check("avg_size", self.avg_size, AVERAGE_MIN, AVERAGE_MAX)?;
        check("max_size", self.max_size, MAXIMUM_MIN, MAXIMUM_MAX)?;
        if !(self.min_size < self.avg_size && self.avg_size < self.max_size) {
            return Err(Error::argument(
                "chunker",
                format!(
                    "sizes must grow: min {} < avg {} < max {}",
                    self.min_size, self.avg_size, self.max_size
                ),
            ));
        }
        Ok(())
    }
}

/// Normalisation level 1, FastCDC's recommended default.
const NORMALIZATION: u32 = 1;

/// A streaming chunker for one file at a time.
///
/// The cut points are exactly those of the `fastcdc` crate's
/// [`cut_gear`](fastcdc::v2020::cut_gear) applied chunk after chunk to the
/// whole stream (a test checks this against the crate), but the search is
/// resumable: every byte is examined once, a chunk is cut as soon as its end
/// is seen, chunks inside one `push` go out straight from the caller's slice,
/// and only a chunk spanning pushes is copied, into a buffer that stays below
/// one maximum chunk.
pub struct Chunker {
    gear: Gear,
    /// The start of the current chunk when it spans pushes: always shorter
    /// than the maximum chunk, and searched up to `scan`.
    buf: Vec<u8>,
    scan: Scan,
}

/// The fixed part of the cut-point search.
struct Gear {
    min: usize,
    avg: usize,
    max: usize,
    /// `mask_s, mask_l, mask_s << 1, mask_l << 1`.
    masks: [u64; 4],
    table: Box<[u64; 256]>,
    table_ls: Box<[u64; 256]>,
}

/// Where the search over the current chunk stands: the byte pairs from
/// `2 * pair` on are still to be examined; `hash` is the gear hash so far.
#[derive(Debug, Clone, Copy)]
struct Scan {
    pair: usize,
    hash: u64,
}

impl Scan {
    /// A new chunk: FastCDC skips its first `min` bytes.
    fn start(min: usize) -> Self {
        Scan {
            pair: min / 2,
            hash: 0,
        }
    }
}

impl Gear {
    /// Continues the search over the current chunk, whose bytes so far are
    /// `head || tail` (`head` already searched but for at most its last byte).
    /// Returns the chunk's length once its end is known (a gear match, `max`
    /// bytes, or the end of the data when `last`) and resets `scan`; `None`
    /// means more bytes are needed, and `scan` records how far it got.
    ///
    /// Mirrors `cut_gear`: byte pairs from `min / 2`, the small-chunk mask
    /// below `avg / 2` pairs and the large one from there, at most `max` bytes.
    fn search(&self, scan: &mut Scan, head: &[u8], tail: &[u8], last: bool) -> Option<usize> {
        let total = head.len() + tail.len();
        if total <= self.min {
            return last.then_some(total);
        }
        let remaining = total.min(self.max);
        if let Some(cut) = self.scan_pairs(scan, head, tail, remaining / 2) {
            *scan = Scan::start(self.min);
            return Some(cut);
        }
        if total >= self.max || last {
            *scan = Scan::start(self.min);
            return Some(remaining);
        }
        None
    }

    /// Examines the pairs `scan.pair..end`; returns the first cut.
    fn scan_pairs(&self, scan: &mut Scan, head: &[u8], tail: &[u8], end: usize) -> Option<usize> {
        let [mask_s, mask_l, mask_s_ls, mask_l_ls] = self.masks;
        let center = self.avg / 2;
        let byte = |i: usize| match i.checked_sub(head.len()) {
            None => head.get(i).copied(),
            Some(j) => tail.get(j).copied(),
        };
        // A pair that starts in `head` (at most one, straddling into `tail`).
        while scan.pair < end && scan.pair * 2 < head.len() {
            let (a, b) = (byte(scan.pair * 2)?, byte(scan.pair * 2 + 1)?);
            let (m_ls, m) = if scan.pair < center {
                (mask_s_ls, mask_s)
            } else {
                (mask_l_ls, mask_l)
            };
            scan.hash = (scan.hash << 2).wrapping_add(self.table_ls[a as usize]);
            if scan.hash & m_ls == 0 {
                return Some(scan.pair * 2);
            }
            scan.hash = scan.hash.wrapping_add(self.table[b as usize]);
            if scan.hash & m == 0 {
                return Some(scan.pair * 2 + 1);
            }
            scan.pair += 1;
        }
        // The rest lie in `tail`: the hot loops, small mask then large.
        let split = center.clamp(scan.pair, end.max(scan.pair));
        for (to, m_ls, m) in [(split, mask_s_ls, mask_s), (end, mask_l_ls, mask_l)] {
            if scan.pair >= to {
                continue;
            }
            let from = scan.pair * 2 - head.len();
            let src = tail.get(from..from + (to - scan.pair) * 2)?;
            match gear_run(src, &self.table, &self.table_ls, m_ls, m, scan.hash) {
                Ok(hash) => scan.hash = hash,
                Err(at) => return Some(head.len() + from + at),
            }
            scan.pair = to;
        }
        None
    }
}

/// The hot loop: the gear hash over the byte pairs of `src` with masks
/// `m_ls` (first byte of a pair) and `m` (second). `Err` holds the cut's
/// offset in `src`, `Ok` the hash after all of it.
///
/// Eight bytes a step. Written byte after byte, the hash is a chain of
/// three dependent operations per pair (shift, add, add), and that chain,
/// not the table loads, bounds the speed. Within a step, the hash after
/// pair `j` is `hash << 2(j + 1)` plus a sum of table entries that does not
/// depend on `hash` (shifts distribute over wrapping addition), so only one
/// shift and add per step carry over to the next, and the CPU overlaps the
/// steps. The cut points are the same: every prefix's hash is checked.
///
/// Not inlined: on its own the loop keeps both tables' addresses in
/// registers; inlined into `scan_pairs`, they were spilled and reloaded on
/// every byte, and loads are what the loop is short of. A call per run
/// (at most two per chunk) costs nothing.
#[inline(never)]
fn gear_run(
    src: &[u8],
    table: &[u64; 256],
    table_ls: &[u64; 256],
    m_ls: u64,
    m: u64,
    mut hash: u64,
) -> std::result::Result<u64, usize> {
    let mut steps = src.chunks_exact(8);
    let mut at = 0;
    for step in &mut steps {
        let mut sum = 0u64;
        for j in 0..4 {
            let high = hash << (2 * (j + 1));
            let first = (sum << 2).wrapping_add(table_ls[step[2 * j] as usize]);
            if high.wrapping_add(first) & m_ls == 0 {
                return Err(at + 2 * j);
            }
            sum = first.wrapping_add(table[step[2 * j + 1] as usize]);
            if high.wrapping_add(sum) & m == 0 {
                return Err(at + 2 * j + 1);
            }
        }
        hash = (hash << 8).wrapping_add(sum);
        at += 8;
    }
    for (k, p) in steps.remainder().chunks_exact(2).enumerate() {
        hash = (hash << 2).wrapping_add(table_ls[p[0] as usize]);
        if hash & m_ls == 0 {
            return Err(at + 2 * k);
        }
        hash = hash.wrapping_add(table[p[1] as usize]);
        if hash & m == 0 {
            return Err(at + 2 * k + 1);
        }
    }
    Ok(hash)
}

/// A chunk as [`Chunker::push_cuts`] hands it out.
pub enum Cut<'a> {
    /// Bytes of the data pushed, or of the chunker's buffer (valid for the
    /// call only).
    Borrowed(&'a [u8]),
    /// The chunker's own buffer, holding exactly the chunk. The receiver
    /// may take it, leaving another buffer (emptied; any capacity) in its
    /// place, so a chunk that spanned pushes moves on without a copy.
    Buffered(&'a mut Vec<u8>),
}

impl Cut<'_> {
    /// The chunk's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Cut::Borrowed(b) => b,
            Cut::Buffered(b) => b,
        }
    }
}

impl Chunker {
    /// A chunker with `params` and the gear table derived from `key`.
    pub fn new(params: ChunkerParams, key: &SecretKey) -> Result<Self> {
        params.validate()?;
        let mut bytes = [0u8; 256 * 8];
        blake3::Hasher::new_keyed(key.as_bytes())
            .update(b"fastcdc 2020 gear table")
            .finalize_xof()
            .fill(&mut bytes);
        let mut table = Box::new([0u64; 256]);
        let mut table_ls = Box::new([0u64; 256]);
        for (i, word) in bytes.chunks_exact(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            table[i] = u64::from_le_bytes(w);
            table_ls[i] = table[i] << 1;
        }
        let bits = logarithm2(params.avg_size);
        let mask_s = MASKS[(bits + NORMALIZATION) as usize];
        let mask_l = MASKS[(bits - NORMALIZATION) as usize];
        let min = params.min_size as usize;
        Ok(Chunker {
            gear: Gear {
                min,
                avg: params.avg_size as usize,
                max: params.max_size as usize,
                masks: [mask_s, mask_l, mask_s << 1, mask_l << 1],
                table,
                table_ls,
            },
            buf: Vec::new(),
            scan: Scan::start(min),
        })
    }

    /// Feeds `data`; `emit` receives every chunk that is now complete. After
    /// an error from `emit` the chunker's state is unspecified: start over.
    pub fn push(&mut self, data: &[u8], emit: &mut impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        self.push_cuts(data, &mut |cut| emit(cut.bytes()))
    }

    /// Like [`push`](Self::push), but a chunk the chunker assembled in its
    /// own buffer (one spanning pushes) comes as [`Cut::Buffered`], which
    /// the receiver may take instead of copying.
    pub fn push_cuts(
        &mut self,
        data: &[u8],
        emit: &mut impl FnMut(Cut<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut rest = data;
        // First the chunk that spans pushes, completed from `data`.
        while !self.buf.is_empty() {
            match self.gear.search(&mut self.scan, &self.buf, rest, false) {
                None => {
                    self.buf.extend_from_slice(rest);
                    return Ok(());
                }
                Some(len) if len < self.buf.len() => {
                    emit(Cut::Borrowed(&self.buf[..len]))?;
                    self.buf.drain(..len);
                }
                Some(len) => {
                    let (now, later) = rest.split_at((len - self.buf.len()).min(rest.len()));
                    self.buf.extend_from_slice(now);
                    emit(Cut::Buffered(&mut self.buf))?;
                    self.buf.clear();
                    rest = later;
                }
            }
        }
        // Then the chunks that lie in `data`, without a copy.
        while let Some(len) = self.gear.search(&mut self.scan, &[], rest, false) {
            let (chunk, later) = rest.split_at(len.max(1).min(rest.len()));
            emit(Cut::Borrowed(chunk))?;
            rest = later;
        }
        // The start of the next chunk waits for more bytes.
        if self.buf.capacity() == 0 && !rest.is_empty() {
            self.buf.reserve_exact(self.gear.max);
        }
        self.buf.extend_from_slice(rest);
        Ok(())
    }

    /// Ends the current file: `emit` receives the remaining chunks, and the
    /// chunker is ready for the next file.
    pub fn finish(&mut self, emit: &mut impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        self.finish_cuts(&mut |cut| emit(cut.bytes()))
    }

    /// Like [`finish`](Self::finish), with the last chunk as
    /// [`Cut::Buffered`] (see [`push_cuts`](Self::push_cuts)).
    pub fn finish_cuts(&mut self, emit: &mut impl FnMut(Cut<'_>) -> Result<()>) -> Result<()> {
        while !self.buf.is_empty() {
            let len = self
                .gear
                .search(&mut self.scan, &self.buf, &[], true)
                .unwrap_or(self.buf.len())
                .max(1)
                .min(self.buf.len());
            if len == self.buf.len() {
                emit(Cut::Buffered(&mut self.buf))?;
                self.buf.clear();
                break;
            }
            emit(Cut::Borrowed(&self.buf[..len]))?;
            self.buf.drain(..len);
        }
        self.scan = Scan::start(self.gear.min);
        Ok(())
    }

    /// Drops the current file's bytes not cut yet (the host gave up on
    /// the file): the chunker is ready for the next file.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.scan = Scan::start(self.gear.min);
    }

    /// Bytes buffered but not yet cut.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

mod zeros;

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Small chunk sizes, so short inputs make many chunks.
    pub(super) fn small() -> ChunkerParams {
        ChunkerParams {
            min_size: 1024,
            avg_size: 4096,
            max_size: 16384,
        }
    }

    fn chunks(chunker: &mut Chunker, data: &[u8], step: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for piece in data.chunks(step.max(1)) {
            chunker
                .push(piece, &mut |c| {
                    out.push(c.to_vec());
                    Ok(())
                })
                .unwrap();
        }
        chunker
            .finish(&mut |c| {
                out.push(c.to_vec());
                Ok(())
            })
            .unwrap();
        out
    }

    fn data(n: usize) -> Vec<u8> {
        crate::engine::noise::noise(0x9e3779b97f4a7c15, n)
    }

    /// The chunk lengths `fastcdc::v2020::cut_gear` gives over the whole of
    /// `data`, with the chunker's own tables: the reference.
    fn reference(c: &Chunker, data: &[u8]) -> Vec<usize> {
        let g = &c.gear;
        let [s, l, s_ls, l_ls] = g.masks;
        let mut out = Vec::new();
        let mut at = 0;
        while at < data.len() {
            let (_, len) = fastcdc::v2020::cut_gear(
                &data[at..],
                g.min,
                g.avg,
                g.max,
                s,
                l,
                s_ls,
                l_ls,
                &g.table,
                &g.table_ls,
            );
            out.push(len);
            at += len;
        }
        out
    }

    #[test]
    fn cuts_match_the_fastcdc_crate_however_bytes_arrive() {
        let key = SecretKey::from_bytes([7; 32]);
        let mut zeros_and_noise = vec![0u8; 200_000];
        zeros_and_noise.extend(data(150_001));
        zeros_and_noise.extend(vec![0u8; 70_001]);
        let odd = ChunkerParams {
            min_size: 1001,
            avg_size: 3001,
            max_size: 9999,
        };
        for params in [small(), odd] {
            for input in [data(300_001), zeros_and_noise.clone(), data(999)] {
                let mut c = Chunker::new(params, &key).unwrap();
                let want = reference(&c, &input);
                for step in [1, 2, 3, 1000, 1001, 4096, 9999, 10_000, 65_537, input.len()] {
                    let got: Vec<usize> =
                        chunks(&mut c, &input, step).iter().map(Vec::len).collect();
                    assert_eq!(got, want, "{params:?}, step {step}");
                    assert_eq!(c.pending(), 0);
                }
            }
        }
    }

    /// Cut lengths computed once and pinned: any change to the gear table's
    /// derivation, the masks or the search moves them, and old vaults would
    /// stop deduplicating against new backups.
    #[test]
    fn cut_points_are_pinned() {
        let key = SecretKey::from_bytes(*b"cloudbackup chunker test vector!");
        let mut input = data(200_000);
        input.extend(vec![0u8; 40_000]);
        input.extend(data(60_003));
        let got: Vec<usize> = chunks(&mut Chunker::new(small(), &key).unwrap(), &input, 4099)
            .iter()
            .map(Vec::len)
            .collect();
        // The zero run cuts at the maximum; the repeated noise repeats cuts.
        let want = [
            4186, 4473, 2585, 4199, 3581, 7445, 9872, 2691, 5317, 6263, 5002, 8607, 3751, 5900,
            3654, 5472, 3843, 5582, 2632, 10068, 11953, 4474, 7414, 10413, 3118, 4906, 10124, 1768,
            2585, 5072, 5409, 2917, 7466, 6637, 2219, 7022, 16384, 16384, 10781, 6101, 2974, 4199,
            3581, 7445, 9872, 2691, 5317, 6263, 5002, 4389,
        ];
        assert_eq!(got, want);
        assert_eq!(got.iter().sum::<usize>(), input.len());
        let big = data(24 << 20);
        let got: Vec<usize> = chunks(
            &mut Chunker::new(ChunkerParams::default(), &key).unwrap(),
            &big,
            1 << 20,
        )
        .iter()
        .map(Vec::len)
        .collect();
        let want = [
            526329, 1087738, 1843427, 2510059, 1902999, 1147859, 1201046, 1137813, 1109829,
            1176910, 1276948, 2422975, 1039396, 1261993, 1744975, 969087, 1100407, 1140814, 565220,
        ];
        assert_eq!(got, want);
        assert_eq!(got.iter().sum::<usize>(), big.len());
    }

    /// The unrolled loop against the gear hash written pair by pair, with
    /// masks loose enough to hit at every offset of its eight-byte steps.
    #[test]
    fn the_unrolled_loop_hashes_and_cuts_like_the_plain_one() {
        let c = Chunker::new(small(), &SecretKey::from_bytes([5; 32])).unwrap();
        let (table, table_ls) = (&c.gear.table, &c.gear.table_ls);
        let plain = |src: &[u8], m_ls: u64, m: u64, mut hash: u64| {
            for (k, p) in src.chunks_exact(2).enumerate() {
                hash = (hash << 2).wrapping_add(table_ls[p[0] as usize]);
                if hash & m_ls == 0 {
                    return Err(2 * k);
                }
                hash = hash.wrapping_add(table[p[1] as usize]);
                if hash & m == 0 {
                    return Err(2 * k + 1);
                }
            }
            Ok(hash)
        };
        let d = data(4000);
        let mut offsets = [false; 8];
        for (m_ls, m) in [(0x3 << 40, 0x5 << 30), (0x7 << 20, 0x3 << 50), (!0, !0)] {
            for start in (0..200).step_by(2) {
                for len in (0..64).map(|n| 2 * n).chain([3000]) {
                    let src = &d[start..start + len];
                    let got = gear_run(src, table, table_ls, m_ls, m, start as u64);
                    assert_eq!(got, plain(src, m_ls, m, start as u64), "{start} {len}");
                    if let Err(at) = got {
                        offsets[at % 8] = true;
                    }
                }
            }
        }
        assert_eq!(offsets, [true; 8]);
    }

    #[test]
    fn the_buffer_stays_below_one_maximum_chunk() {
        let key = SecretKey::from_bytes([1; 32]);
        let mut c = Chunker::new(small(), &key).unwrap();
        let mut most = 0;
        for piece in vec![0u8; 200_000].chunks(7000) {
            c.push(piece, &mut |_| Ok(())).unwrap();
            most = most.max(c.pending());
        }
        assert!(most < 16384, "{most}");
        assert!(c.buf.capacity() <= 16384);
    }

    #[test]
    fn boundaries_do_not_depend_on_how_bytes_arrive() {
        let key = SecretKey::from_bytes([1; 32]);
        let d = data(300_000);
        let whole = chunks(&mut Chunker::new(small(), &key).unwrap(), &d, d.len());
        for step in [1, 7, 4096, 16385, 100_000] {
            let mut c = Chunker::new(small(), &key).unwrap();
            assert_eq!(chunks(&mut c, &d, step), whole, "step {step}");
        }
        assert_eq!(whole.concat(), d);
        assert!(whole.iter().all(|c| c.len() <= 16384));
        assert!(whole[..whole.len() - 1].iter().all(|c| c.len() >= 1024));
    }

    /// Taking the chunker's buffer (and leaving one of another capacity)
    /// changes nothing: the same chunks, and some did come buffered.
    #[test]
    fn taking_buffered_chunks_gives_the_same_chunks() {
        let key = SecretKey::from_bytes([1; 32]);
        let d = data(300_000);
        let whole = chunks(&mut Chunker::new(small(), &key).unwrap(), &d, d.len());
        for step in [7, 3000, 16385] {
            let mut c = Chunker::new(small(), &key).unwrap();
            let (mut out, mut taken) = (Vec::new(), 0);
            let mut take = |cut: Cut<'_>| {
                match cut {
                    Cut::Borrowed(b) => out.push(b.to_vec()),
                    Cut::Buffered(b) => {
                        taken += 1;
                        out.push(std::mem::replace(b, Vec::with_capacity(taken % 3 * 100)));
                    }
                }
                Ok(())
            };
            for piece in d.chunks(step) {
                c.push_cuts(piece, &mut take).unwrap();
            }
            c.finish_cuts(&mut take).unwrap();
            assert_eq!(out, whole, "step {step}");
            assert!(taken > 0, "step {step}");
        }
    }

    #[test]
    fn the_key_moves_the_boundaries() {
        let d = data(300_000);
        let a = chunks(
            &mut Chunker::new(small(), &SecretKey::from_bytes([1; 32])).unwrap(),
            &d,
            999,
        );
        let b = chunks(
            &mut Chunker::new(small(), &SecretKey::from_bytes([2; 32])).unwrap(),
            &d,
            999,
        );
        assert_ne!(
            a.iter().map(Vec::len).collect::<Vec<_>>(),
            b.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_insertion_only_changes_nearby_chunks() {
        let key = SecretKey::from_bytes([1; 32]);
        let d = data(400_000);
        let mut e = d.clone();
        e.insert(200_000, 0xAB);
        let a = chunks(&mut Chunker::new(small(), &key).unwrap(), &d, 5000);
        let b = chunks(&mut Chunker::new(small(), &key).unwrap(), &e, 5000);
        let shared = b.iter().filter(|c| a.contains(c)).count();
        assert!(
            shared + 3 >= b.len(),
            "{shared} of {} chunks shared",
            b.len()
        );
    }

    #[test]
    fn bad_params_are_named() {
        let key = SecretKey::from_bytes([1; 32]);
        let e = Chunker::new(
            ChunkerParams {
                min_size: 10,
                ..ChunkerParams::default()
            },
            &key,
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("min_size"), "{e}");
        let e = Chunker::new(
            ChunkerParams {
                min_size: 4096,
                avg_size: 4096,
                max_size: 65536,
            },
            &key,
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("must grow"), "{e}");
    }

    #[test]
    fn empty_input_gives_no_chunks() {
        let mut c = Chunker::new(small(), &SecretKey::from_bytes([1; 32])).unwrap();
        assert!(chunks(&mut c, &[], 10).is_empty());
    }
}
