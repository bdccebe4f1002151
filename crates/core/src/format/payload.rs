//! The plaintext inside every sealed box: `flag u8 ‖ body`.
//! flag 0: body is the data as is; flag 1: body is one zstd frame.
//! Compression is skipped when it does not make the data smaller.

use crate::error::{Error, Result};
use std::cell::RefCell;
use std::io::Read;

const RAW: u8 = 0;
const ZSTD: u8 = 1;

/// Largest plaintext coffer ever decompresses in one piece (a tree blob of a
/// directory with millions of entries fits); bounds zip bombs.
pub const MAX_PLAIN: u64 = 1 << 30;

/// Encodes `data`, compressed with zstd at `level` when that shrinks it.
pub fn encode(data: &[u8], level: i32) -> Vec<u8> {
    if level != 0
        && data.len() >= 64
        && let Ok(z) = compress(data, level)
        && z.len() < data.len()
    {
        let mut out = Vec::with_capacity(z.len() + 1);
        out.push(ZSTD);
        out.extend_from_slice(&z);
        return out;
    }
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(RAW);
    out.extend_from_slice(data);
    out
}

thread_local! {
    // A zstd context costs a large allocation and its initialisation; making
    // one per blob dominated small-blob work. One per thread, reused.
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

fn compress(data: &[u8], level: i32) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with_borrow_mut(|slot| {
        if !matches!(slot, Some((l, _)) if *l == level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level)?));
        }
        let (_, c) = slot.as_mut().expect("set above");
        c.compress(data)
    })
}

/// One frame whose header states its size (every frame coffer writes),
/// into a buffer of exactly that size; `None` when the size is not stated.
fn decompress_sized(body: &[u8]) -> Option<std::io::Result<Vec<u8>>> {
    let size = zstd::zstd_safe::get_frame_content_size(body).ok()??;
    // Allocate up front only what a header can plausibly claim; the
    // streaming path below grows with what the frame really holds.
    if size > MAX_PLAIN || (size > 16 << 20 && size / 1024 > body.len() as u64) {
        return None;
    }
    Some(DECOMPRESSOR.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new()?);
        }
        let d = slot.as_mut().expect("set above");
        let out = d.decompress(body, size as usize)?;
        if out.len() as u64 != size {
            return Err(std::io::Error::other("frame shorter than its header says"));
        }
        Ok(out)
    }))
}

/// Decodes a payload; `what` names the object for the error.
pub fn decode(payload: &[u8], what: &str) -> Result<Vec<u8>> {
    match payload.split_first() {
        Some((&RAW, body)) => Ok(body.to_vec()),
        Some((&ZSTD, body)) => {
            if let Some(r) = decompress_sized(body) {
                return r.map_err(|e| Error::corrupt(format!("cannot decompress ({e})"), what));
            }
            let dec = zstd::stream::read::Decoder::new(body)
                .map_err(|e| Error::corrupt(format!("cannot decompress ({e})"), what))?;
            let mut out = Vec::new();
            dec.take(MAX_PLAIN + 1)
                .read_to_end(&mut out)
                .map_err(|e| Error::corrupt(format!("cannot decompress ({e})"), what))?;
            if out.len() as u64 > MAX_PLAIN {
                return Err(Error::corrupt("decompressed data too large", what));
            }
            Ok(out)
        }
        Some((flag, _)) => Err(Error::corrupt(format!("unknown payload flag {flag}"), what)),
        None => Err(Error::corrupt("empty payload", what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_only_when_smaller() {
        let zeros = vec![0u8; 10_000];
        let enc = encode(&zeros, 3);
        assert_eq!(enc[0], ZSTD);
        assert!(enc.len() < 100);
        assert_eq!(decode(&enc, "t").unwrap(), zeros);

        let random: Vec<u8> = (0..10_000).map(|_| rand::random()).collect();
        let enc = encode(&random, 3);
        assert_eq!(enc[0], RAW);
        assert_eq!(decode(&enc, "t").unwrap(), random);
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode(&[], "t").is_err());
        assert!(decode(&[7, 1, 2], "t").is_err());
        assert!(decode(&[ZSTD, 1, 2, 3], "t").is_err());
    }
}
