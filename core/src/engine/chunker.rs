//! Streaming content-defined chunking: FastCDC 2020 (the `fastcdc` crate's
//! cut-point search) over a secret, per-vault gear table, so chunk
//! boundaries (and so chunk sizes) reveal nothing to someone without the key.
//! Memory stays at about twice the maximum chunk size whatever the input.

use fastcdc::v2020::{cut_gear, logarithm2, MASKS};
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
pub struct Chunker {
    min: usize,
    avg: usize,
    max: usize,
    masks: [u64; 4],
    gear: Box<[u64; 256]>,
    gear_ls: Box<[u64; 256]>,
    /// Bytes not yet cut; `buf[start..]` is pending.
    buf: Vec<u8>,
    start: usize,
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
        let mut gear = Box::new([0u64; 256]);
        let mut gear_ls = Box::new([0u64; 256]);
        for (i, word) in bytes.chunks_exact(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            gear[i] = u64::from_le_bytes(w);
            gear_ls[i] = gear[i] << 1;
        }
        let bits = logarithm2(params.avg_size);
        let mask_s = MASKS[(bits + NORMALIZATION) as usize];
        let mask_l = MASKS[(bits - NORMALIZATION) as usize];
        Ok(Chunker {
            min: params.min_size as usize,
            avg: params.avg_size as usize,
            max: params.max_size as usize,
            masks: [mask_s, mask_l, mask_s << 1, mask_l << 1],
            gear,
            gear_ls,
            buf: Vec::new(),
            start: 0,
        })
    }

    fn cut(&self, data: &[u8]) -> usize {
        let [s, l, s_ls, l_ls] = self.masks;
        let (_, len) = cut_gear(
            data,
            self.min,
            self.avg,
            self.max,
            s,
            l,
            s_ls,
            l_ls,
            &self.gear,
            &self.gear_ls,
        );
        len.max(1).min(data.len())
    }

    /// Feeds `data`; `emit` receives every chunk that is now complete.
    pub fn push(&mut self, data: &[u8], emit: &mut impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        // Take at most `max` bytes at a time so the buffer never holds more
        // than about two maximum chunks, however large `data` is.
        for piece in data.chunks(self.max) {
            self.buf.extend_from_slice(piece);
            while self.buf.len() - self.start >= self.max {
                let len = self.cut(&self.buf[self.start..]);
                emit(&self.buf[self.start..self.start + len])?;
                self.start += len;
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
        }
        Ok(())
    }

    /// Ends the current file: `emit` receives the remaining chunks, and the
    /// chunker is ready for the next file.
    pub fn finish(&mut self, emit: &mut impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        while self.start < self.buf.len() {
            let len = self.cut(&self.buf[self.start..]);
            emit(&self.buf[self.start..self.start + len])?;
            self.start += len;
        }
        self.buf.clear();
        self.start = 0;
        Ok(())
    }

    /// Bytes buffered but not yet cut.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ChunkerParams {
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
        let mut x: u64 = 0x9e3779b97f4a7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
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
