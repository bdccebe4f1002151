//! Chunking: FastCDC (content-defined, seeded per repository) for files.
//! Input: a reader. Output: chunks in order, each a plaintext buffer.
//! Invariant: the same bytes with the same parameters and seed always give
//! the same boundaries, and an insertion only moves boundaries near it.

use crate::error::{Error, Result};
use crate::format::config::ChunkerParams;
use fastcdc::v2020::{Normalization, StreamCDC};
use std::io::Read;

/// Content-defined chunking parameters of one repository.
#[derive(Debug, Clone)]
pub struct Chunker {
    params: ChunkerParams,
    seed: u64,
}

impl Chunker {
    pub fn new(params: ChunkerParams, seed: u64) -> Self {
        Chunker { params, seed }
    }

    pub fn min_size(&self) -> usize {
        self.params.min_size as usize
    }

    /// Splits everything `reader` yields, calling `each` with every chunk in
    /// order. `what` names the source for errors.
    pub fn chunks<R: Read>(
        &self,
        mut reader: R,
        size_hint: u64,
        what: &dyn std::fmt::Display,
        each: &mut dyn FnMut(Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        // A file no longer than the minimum chunk is one chunk: skip the
        // chunker and its max-size buffer (most files of a system are small).
        if size_hint < self.params.min_size as u64 {
            let mut buf = Vec::with_capacity(size_hint as usize + 1);
            (&mut reader)
                .take(self.params.min_size as u64)
                .read_to_end(&mut buf)
                .map_err(|e| Error::io("cannot read", what, e))?;
            if buf.len() < self.min_size() {
                if !buf.is_empty() {
                    each(buf)?;
                }
                return Ok(());
            }
            // The file grew while we read it: chunk it all properly.
            return self.chunk_stream(std::io::Cursor::new(buf).chain(reader), what, each);
        }
        self.chunk_stream(reader, what, each)
    }

    fn chunk_stream<R: Read>(
        &self,
        reader: R,
        what: &dyn std::fmt::Display,
        each: &mut dyn FnMut(Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        let p = &self.params;
        let cdc = StreamCDC::with_level_and_seed(
            reader,
            p.min_size as usize,
            p.avg_size as usize,
            p.max_size as usize,
            Normalization::Level1,
            self.seed,
        );
        for chunk in cdc {
            match chunk {
                Ok(c) => each(c.data)?,
                Err(fastcdc::v2020::Error::IoError(e)) => {
                    return Err(Error::io("cannot read", what, e));
                }
                Err(e) => {
                    return Err(Error::fatal(format!("chunker failed ({e})")).with_location(what));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small() -> Chunker {
        Chunker::new(
            ChunkerParams {
                min_size: 256,
                avg_size: 1024,
                max_size: 4096,
            },
            0x1234_5678,
        )
    }

    fn boundaries(c: &Chunker, data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        c.chunks(data, data.len() as u64, &"test", &mut |ch| {
            out.push(ch);
            Ok(())
        })
        .unwrap();
        out
    }

    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn chunks_concatenate_to_input_within_bounds(len in 0usize..40_000, seed in any::<u64>()) {
            let data = pseudo_random(len, seed);
            let c = small();
            let chunks = boundaries(&c, &data);
            prop_assert_eq!(chunks.concat(), data);
            for (i, ch) in chunks.iter().enumerate() {
                prop_assert!(ch.len() <= 4096);
                if i + 1 < chunks.len() { prop_assert!(ch.len() >= 256); }
            }
        }

        #[test]
        fn deterministic(len in 0usize..20_000, seed in any::<u64>()) {
            let data = pseudo_random(len, seed);
            prop_assert_eq!(boundaries(&small(), &data), boundaries(&small(), &data));
        }

        #[test]
        fn shift_resistant(seed in any::<u64>(), at in 0usize..30_000, insert in 1usize..100) {
            // Inserting bytes near the start leaves most later chunks unchanged.
            let data = pseudo_random(60_000, seed);
            let mut edited = data[..at].to_vec();
            edited.extend(std::iter::repeat_n(0xAB, insert));
            edited.extend_from_slice(&data[at..]);
            let a = boundaries(&small(), &data);
            let b = boundaries(&small(), &edited);
            let shared = a.iter().filter(|ch| b.contains(ch)).count();
            // Chunks wholly after the edit should mostly survive: the chunks
            // around the edit change, and a run of chunks cut at the maximum
            // length (not by content) shifts until the next content cut.
            let after = a.len() * (60_000 - at) / 60_000;
            prop_assert!(shared + 3 >= after * 4 / 5, "shared {} of {} after edit", shared, after);
        }
    }

    #[test]
    fn seed_changes_boundaries() {
        let data = pseudo_random(100_000, 7);
        let other = Chunker::new(
            ChunkerParams {
                min_size: 256,
                avg_size: 1024,
                max_size: 4096,
            },
            99,
        );
        assert_ne!(boundaries(&small(), &data), boundaries(&other, &data));
    }
}
