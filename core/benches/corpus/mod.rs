//! A deterministic, streamable test corpus for the pipeline benchmark and the
//! `stream_backup` example: blocks of varied size (4 KiB to 4 MiB, log-uniform)
//! of text-like, binary-like, random and zero bytes, plus (optionally) repeats
//! of earlier blocks, so chunking, compression and dedup all see realistic
//! structure. Everything comes from a small seeded PRNG; nothing touches disk,
//! and the stream is produced piece by piece, so 2 GiB never sits in memory.

/// splitmix64: tiny, fast, and good enough for test data.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
    Random,
    Zeros,
}

/// A block is fully determined by these, so a repeat regenerates it.
#[derive(Clone, Copy)]
struct Block {
    kind: Kind,
    len: usize,
    seed: u64,
}

/// Blocks are generated a page at a time into a small staging buffer.
const PAGE: usize = 64 * 1024;
/// How many past blocks a repeat can pick from.
const HISTORY: usize = 256;

/// The corpus stream.
pub struct Corpus {
    rng: Rng,
    left: u64,
    repeats: bool,
    words: Vec<Vec<u8>>,
    history: Vec<Block>,
    /// Blocks of a repeat still to come, last first.
    replay: Vec<Block>,
    /// The block being produced, its generator and how much of it is left.
    block: Option<(Block, Rng, usize, u64)>,
    stage: Vec<u8>,
    staged: usize,
}

impl Corpus {
    /// `size` bytes from `seed`. With `repeats`, some blocks repeat earlier
    /// ones and zero runs go up to 16 MiB (both dedup); without, zero runs stay
    /// under the minimum chunk size and nothing repeats, so no chunk can dedup.
    pub fn new(seed: u64, size: u64, repeats: bool) -> Self {
        // A fixed vocabulary of 512 "words" (2-11 letters), skewed when picked.
        let mut v = Rng(0x5eed_0f70_c4b0);
        let words = (0..512)
            .map(|_| {
                let n = 2 + v.below(10) as usize;
                (0..n).map(|_| b'a' + v.below(26) as u8).collect()
            })
            .collect();
        Corpus {
            rng: Rng(seed),
            left: size,
            repeats,
            words,
            history: Vec::new(),
            replay: Vec::new(),
            block: None,
            stage: Vec::with_capacity(PAGE + 64),
            staged: 0,
        }
    }

    /// Fills `buf` with the next bytes; returns how many (0 at the end).
    pub fn fill(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() && self.left > 0 {
            if self.staged == self.stage.len() && !self.next_page() {
                break;
            }
            let take = (self.stage.len() - self.staged)
                .min(buf.len() - n)
                .min(self.left as usize);
            buf[n..n + take].copy_from_slice(&self.stage[self.staged..self.staged + take]);
            self.staged += take;
            n += take;
            self.left -= take as u64;
        }
        n
    }

    fn new_block(&mut self) -> Block {
        if let Some(b) = self.replay.pop() {
            return b;
        }
        let r = &mut self.rng;
        if self.repeats && self.history.len() > 64 && r.below(100) == 0 {
            // Replay a run of 8..40 consecutive earlier blocks (a copied file,
            // a second version of a document): long enough for chunk
            // boundaries to resynchronise, so most of it dedups.
            let n = 8 + r.below(32) as usize;
            let from = r.below((self.history.len() - n) as u64) as usize;
            self.replay
                .extend(self.history[from..from + n].iter().rev());
            return self.new_block();
        }
        let kind = match r.below(100) {
            0..=34 => Kind::Text,
            35..=64 => Kind::Binary,
            65..=89 => Kind::Random,
            _ => Kind::Zeros,
        };
        // Log-uniform 4 KiB .. 4 MiB (zero runs: .. 16 MiB, or < 256 KiB).
        let octaves = match (kind, self.repeats) {
            (Kind::Zeros, true) => 12,
            (Kind::Zeros, false) => 6,
            _ => 10,
        };
        let exp = r.below(octaves * 16) as f64 / 16.0;
        let len = (4096.0 * exp.exp2()) as usize;
        let block = Block {
            kind,
            len,
            seed: r.next(),
        };
        if self.repeats {
            if self.history.len() == HISTORY {
                self.history.remove(0);
            }
            self.history.push(block);
        }
        block
    }

    /// Generates the next page of the current block (starting a new block
    /// when needed) into the stage.
    fn next_page(&mut self) -> bool {
        if self.left == 0 {
            return false;
        }
        if self.block.as_ref().is_none_or(|b| b.2 == 0) {
            let b = self.new_block();
            self.block = Some((b, Rng(b.seed), b.len, 0));
        }
        let Some((block, rng, left, counter)) = self.block.as_mut() else {
            return false;
        };
        let n = PAGE.min(*left);
        *left -= n;
        self.stage.clear();
        self.staged = 0;
        match block.kind {
            Kind::Zeros => self.stage.resize(n, 0),
            Kind::Random => {
                while self.stage.len() < n {
                    self.stage.extend_from_slice(&rng.next().to_le_bytes());
                }
            }
            Kind::Text => {
                while self.stage.len() < n {
                    let r = rng.next();
                    // Zipf-like: the smaller of two uniforms favours early words.
                    let i = ((r & 511).min((r >> 9) & 511)) as usize;
                    self.stage.extend_from_slice(&self.words[i]);
                    self.stage.push(match (r >> 20) & 15 {
                        0 => b'\n',
                        1 => b',',
                        2 => b'.',
                        _ => b' ',
                    });
                }
            }
            Kind::Binary => {
                // 32-byte records: a counter, a small measurement, a slowly
                // varying float and a tag from a short table.
                while self.stage.len() < n {
                    let r = rng.next();
                    *counter += 1 + (r & 3);
                    self.stage.extend_from_slice(&counter.to_le_bytes());
                    self.stage
                        .extend_from_slice(&((r >> 8) as u32 % 1000).to_le_bytes());
                    self.stage.extend_from_slice(&[0, 0, 0, 0]);
                    let f = (*counter as f64 * 0.001).sin() * 100.0;
                    self.stage.extend_from_slice(&f.to_bits().to_le_bytes());
                    self.stage.extend_from_slice(
                        &[b"INFO", b"WARN", b"DBUG", b"ERR!"][(r >> 40) as usize & 3][..],
                    );
                    self.stage.extend_from_slice(&(r >> 48).to_le_bytes()[..4]);
                }
            }
        }
        self.stage.truncate(n);
        true
    }
}
