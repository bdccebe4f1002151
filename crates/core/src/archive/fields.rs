//! The fields of tar members that import decodes: compression sniffed
//! from the first bytes, member names split into safe components, pax
//! times and decimal numbers. Pure functions of their bytes (fuzzed).

use crate::error::{Error, Result};
use std::io::{BufRead, BufReader, Read};

/// Opens the input and undoes its compression (gzip, zstd or none).
pub fn open_input(source: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>> {
    let mut r = BufReader::with_capacity(1 << 20, source);
    let head = r
        .fill_buf()
        .map_err(|e| Error::io("cannot read", "archive", e))?
        .to_vec();
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::Decoder::with_buffer(r).map_err(|e| Error::io("cannot read", "archive", e))?)
    } else {
        Box::new(r)
    })
}

/// The longest name a directory entry can have on Linux file systems.
const NAME_MAX: usize = 255;

/// Name components of a member, as tar names them: empty and `.`
/// components and a leading `/` are dropped (`./etc//passwd` is
/// `etc/passwd`). A name no file system can hold is refused with why: one
/// that climbs out with `..`, holds a NUL byte, or has a component longer
/// than NAME_MAX.
pub fn components(name: &[u8]) -> std::result::Result<Vec<Vec<u8>>, &'static str> {
    if name.contains(&0) {
        return Err("name holds a NUL byte (no file system can hold it)");
    }
    let mut out = Vec::new();
    for c in name.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("name contains `..`"),
            c if c.len() > NAME_MAX => {
                return Err("name has a component longer than 255 bytes (NAME_MAX)");
            }
            c => out.push(c.to_vec()),
        }
    }
    Ok(out)
}

/// A pax time (`secs[.frac]`, maybe negative) in ns.
pub fn pax_ns(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut f = frac.chars().take(9).collect::<String>();
    while f.len() < 9 {
        f.push('0');
    }
    let frac: i64 = f.parse().ok()?;
    let ns = secs.checked_mul(1_000_000_000)?.checked_add(frac)?;
    Some(if neg { -ns } else { ns })
}

/// A decimal number of a pax record.
pub(crate) fn num(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// Reads one decimal number ended by `\n` (the pax 1.0 sparse map).
pub(crate) fn map_number(r: &mut dyn Read, consumed: &mut u64) -> Option<u64> {
    let mut s = Vec::new();
    let mut b = [0u8; 1];
    loop {
        r.read_exact(&mut b).ok()?;
        *consumed += 1;
        if b[0] == b'\n' {
            return num(&s);
        }
        s.push(b[0]);
        if s.len() > 20 {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times_parse_to_ns() {
        assert_eq!(pax_ns(b"1700000000.5"), Some(1_700_000_000_500_000_000));
        assert_eq!(pax_ns(b"12"), Some(12_000_000_000));
        assert_eq!(pax_ns(b"-1.25"), Some(-1_250_000_000));
        assert_eq!(pax_ns(b"1.123456789123"), Some(1_123_456_789));
        assert_eq!(pax_ns(b"x"), None);
        for ns in [
            0i64,
            1,
            -1,
            1_700_000_000_123_456_789,
            -315_619_200_999_999_999,
        ] {
            assert_eq!(
                pax_ns(super::super::pax::pax_time(ns).as_bytes()),
                Some(ns),
                "{ns}"
            );
        }
    }

    #[test]
    fn member_names_are_cleaned_and_dotdot_refused() {
        assert_eq!(
            components(b"./etc//passwd"),
            Ok(vec![b"etc".to_vec(), b"passwd".to_vec()])
        );
        assert_eq!(
            components(b"/abs/x"),
            Ok(vec![b"abs".to_vec(), b"x".to_vec()])
        );
        assert_eq!(components(b"./"), Ok(vec![]));
        assert!(components(b"a/../../etc").is_err());
    }

    #[test]
    fn names_no_file_system_can_hold_are_refused() {
        assert!(components(b"etc/pass\0wd").is_err());
        assert!(components(b"a\0").is_err());
        let long = [b'x'; NAME_MAX + 1];
        assert!(components(&[b"d/".as_slice(), &long].concat()).is_err());
        assert_eq!(
            components(&long[..NAME_MAX]),
            Ok(vec![long[..NAME_MAX].to_vec()])
        );
    }
}
