//! Hand-written, not the `tar` crate: it splits pax records on newlines,
//! which breaks binary values (xattrs, ACLs, capabilities).
//!
//! Reading a tar stream member by member: ustar/pax headers (local `x`
//! records apply to the next member, global `g` ones to all that follow),
//! GNU long names (`L`, `K`) and old GNU sparse members (`S`), v7 headers,
//! octal and base-256 numbers.
//!
//! Input: any `Read`. Output: [`Member`]s; the caller reads each member's
//! data through [`TarReader::data`] (what it leaves unread is skipped).
//! Invariants: pax records are parsed by their length prefix, so binary
//! values (xattrs) are kept byte for byte; a header whose checksum is wrong
//! is an error (not silently taken as the end); two zero blocks (or the end
//! of the stream at a member boundary) end the archive.

use std::io::{self, Read};

const BLOCK: usize = 512;

#[derive(Debug, Clone, Default)]
pub struct Member {
    pub name: Vec<u8>,
    pub link: Vec<u8>,
    pub flag: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Bytes of data in the archive (for a sparse member: the stored part).
    pub size: u64,
    pub mtime: i64,
    pub user: Vec<u8>,
    pub group: Vec<u8>,
    pub devmajor: u64,
    pub devminor: u64,
    /// Pax records that apply (global first, then local), in order.
    pub pax: Vec<(String, Vec<u8>)>,
    /// Old GNU sparse (`S`): data regions and the real size.
    pub gnu_sparse: Option<(Vec<(u64, u64)>, u64)>,
    /// Why the member cannot be taken as it is (a numeric field that is
    /// malformed or out of range); its data is still skipped correctly.
    pub invalid: Option<&'static str>,
}

impl Member {
    /// The last pax value of `key`.
    pub fn pax(&self, key: &str) -> Option<&[u8]> {
        self.pax
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }
}

pub struct TarReader<R: Read> {
    r: R,
    /// Data bytes of the current member not read yet, then its padding.
    remaining: u64,
    padding: u64,
    global: Vec<(String, Vec<u8>)>,
    done: bool,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// A numeric field: octal, or GNU base-256 (the first byte's top bit set;
/// bit 6 is the sign, the rest of the field big-endian two's complement,
/// as GNU tar writes negative times). Header fields are at most 12 bytes,
/// so the value always fits an `i128`; a longer field is refused.
fn signed(field: &[u8]) -> io::Result<i128> {
    if let Some(&first) = field.first()
        && first & 0x80 != 0
    {
        if field.len() > 15 {
            return Err(bad("base-256 numeric field too long"));
        }
        let mut v = i128::from(first & 0x3f) - i128::from(first & 0x40);
        for &b in &field[1..] {
            v = v * 256 + i128::from(b);
        }
        return Ok(v);
    }
    let s: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ' || b == 0)
        .take_while(|&b| b != b' ' && b != 0)
        .collect();
    if s.is_empty() {
        return Ok(0);
    }
    let s = std::str::from_utf8(&s).map_err(|_| bad("numeric field is not octal"))?;
    u64::from_str_radix(s, 8)
        .map(i128::from)
        .map_err(|_| bad("numeric field is not octal"))
}

/// A numeric field that must be a non-negative `u64` (sizes, offsets,
/// the checksum): anything else is an error, never wrapped.
fn number(field: &[u8]) -> io::Result<u64> {
    u64::try_from(signed(field)?).map_err(|_| bad("numeric field out of range"))
}

/// A member's own numeric fields (mode, owner, time, device): one that is
/// malformed or out of range for its type refuses that member only
/// ([`Member::invalid`]), never wraps.
struct Fields<'h> {
    h: &'h [u8; BLOCK],
    invalid: Option<&'static str>,
}

impl Fields<'_> {
    fn get<T: TryFrom<i128> + Default>(
        &mut self,
        range: std::ops::Range<usize>,
        what: &'static str,
    ) -> T {
        match signed(&self.h[range])
            .ok()
            .and_then(|v| T::try_from(v).ok())
        {
            Some(v) => v,
            None => {
                self.invalid.get_or_insert(what);
                T::default()
            }
        }
    }
}

fn text(field: &[u8]) -> Vec<u8> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field[..end].to_vec()
}

/// Parses pax records (`"LEN key=value\n"`).
pub fn pax_records(data: &[u8]) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let sp = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("malformed pax record"))?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("malformed pax record length"))?;
        if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad("malformed pax record"));
        }
        let rec = &rest[sp + 1..len - 1];
        let eq = rec
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| bad("malformed pax record"))?;
        out.push((
            String::from_utf8_lossy(&rec[..eq]).into_owned(),
            rec[eq + 1..].to_vec(),
        ));
        rest = &rest[len..];
    }
    Ok(out)
}

/// Checks a header block's checksum (the sum of its bytes, the checksum
/// field counted as spaces).
fn check_sum(h: &[u8; BLOCK]) -> io::Result<()> {
    let stored = number(&h[148..156])?;
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    if stored != sum {
        return Err(bad(
            "header checksum mismatch (not a tar archive, or damaged)",
        ));
    }
    Ok(())
}

/// A member as its header block describes it (ustar and old GNU fields),
/// before long names and pax records are applied. A numeric field out of
/// range is recorded in `invalid`, not an error.
fn from_header(h: &[u8; BLOCK], size: u64, pax: Vec<(String, Vec<u8>)>) -> Member {
    let flag = h[156];
    let ustar = &h[257..262] == b"ustar";
    let mut name = text(&h[0..100]);
    if ustar && h[345] != 0 && &h[257..263] == b"ustar\0" {
        let mut full = text(&h[345..500]);
        full.push(b'/');
        full.extend_from_slice(&name);
        name = full;
    }
    let mut f = Fields { h, invalid: None };
    let mode = f.get::<u32>(100..108, "mode field out of range");
    let uid = f.get::<u64>(108..116, "owner id out of range");
    let gid = f.get::<u64>(116..124, "group id out of range");
    let mtime = f
        .get::<i64>(136..148, "modification time out of range")
        .checked_mul(1_000_000_000);
    let (devmajor, devminor) = if ustar {
        (
            f.get::<u64>(329..337, "device number out of range"),
            f.get::<u64>(337..345, "device number out of range"),
        )
    } else {
        (0, 0)
    };
    let invalid = match mtime {
        None => Some("modification time out of range"),
        Some(_) => f.invalid,
    };
    let ustar_text = |r: std::ops::Range<usize>| if ustar { text(&h[r]) } else { Vec::new() };
    Member {
        name,
        link: text(&h[157..257]),
        flag: if flag == 0 { b'0' } else { flag },
        mode,
        uid,
        gid,
        size,
        mtime: mtime.unwrap_or(0),
        user: ustar_text(265..297),
        group: ustar_text(297..329),
        devmajor,
        devminor,
        pax,
        gnu_sparse: None,
        invalid,
    }
}

/// Applies the pax records that override header fields (path, linkpath,
/// size, uid, gid, uname, gname); a pax value stands in for a header field
/// out of range.
fn apply_pax(m: &mut Member) {
    if let Some(v) = m.pax("path") {
        m.name = v.to_vec();
    }
    if let Some(v) = m.pax("linkpath") {
        m.link = v.to_vec();
    }
    if let Some(v) = m
        .pax("size")
        .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
    {
        m.size = v;
    }
    for (key, field, why) in [
        ("uid", &mut m.uid, "owner id out of range"),
        ("gid", &mut m.gid, "group id out of range"),
    ] {
        if let Some(v) = m
            .pax
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
        {
            *field = v;
            if m.invalid == Some(why) {
                m.invalid = None;
            }
        }
    }
    if m.invalid == Some("modification time out of range")
        && m.pax("mtime").and_then(super::import::pax_ns).is_some()
    {
        m.invalid = None;
    }
    if let Some(v) = m.pax("uname") {
        m.user = v.to_vec();
    }
    if let Some(v) = m.pax("gname") {
        m.group = v.to_vec();
    }
}

impl<R: Read> TarReader<R> {
    pub fn new(r: R) -> Self {
        TarReader {
            r,
            remaining: 0,
            padding: 0,
            global: Vec::new(),
            done: false,
        }
    }

    fn skip(&mut self, mut n: u64) -> io::Result<()> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let k = n.min(buf.len() as u64) as usize;
            self.r.read_exact(&mut buf[..k])?;
            n -= k as u64;
        }
        Ok(())
    }

    /// Reads a whole block; `Ok(false)` at a clean end of the stream.
    fn block(&mut self, b: &mut [u8; BLOCK]) -> io::Result<bool> {
        let mut got = 0;
        while got < BLOCK {
            match self.r.read(&mut b[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(bad("archive ends inside a header")),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn body(&mut self, size: u64) -> io::Result<Vec<u8>> {
        if size > 64 << 20 {
            return Err(bad("extended header larger than 64 MiB"));
        }
        let mut v = vec![0u8; size as usize];
        self.r.read_exact(&mut v)?;
        self.skip((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64)?;
        Ok(v)
    }

    /// The next member, or `None` at the end of the archive.
    pub fn next_member(&mut self) -> io::Result<Option<Member>> {
        let (r, p) = (self.remaining, self.padding);
        self.skip(r + p)?;
        self.remaining = 0;
        self.padding = 0;
        let mut local: Vec<(String, Vec<u8>)> = Vec::new();
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        loop {
            if self.done {
                return Ok(None);
            }
            let mut h = [0u8; BLOCK];
            if !self.block(&mut h)? || h.iter().all(|&b| b == 0) {
                self.done = true;
                return Ok(None);
            }
            check_sum(&h)?;
            let flag = h[156];
            let size = number(&h[124..136])?;
            match flag {
                b'x' | b'X' => local.extend(pax_records(&self.body(size)?)?),
                b'g' => {
                    let records = pax_records(&self.body(size)?)?;
                    self.global.extend(records);
                }
                b'L' => long_name = Some(text(&self.body(size)?)),
                b'K' => long_link = Some(text(&self.body(size)?)),
                _ => {
                    let pax = self.global.iter().cloned().chain(local).collect();
                    let mut m = from_header(&h, size, pax);
                    if let Some(name) = long_name {
                        m.name = name;
                    }
                    if let Some(link) = long_link {
                        m.link = link;
                    }
                    if flag == b'S' {
                        m.gnu_sparse = Some(self.gnu_sparse(&h)?);
                    }
                    apply_pax(&mut m);
                    // Hardlinks, directories, links and devices have no data
                    // whatever their size field says (except in old archives).
                    let data = match m.flag {
                        b'1' | b'2' | b'3' | b'4' | b'5' | b'6' => 0,
                        _ => m.size,
                    };
                    self.remaining = data;
                    self.padding = (BLOCK as u64 - data % BLOCK as u64) % BLOCK as u64;
                    return Ok(Some(m));
                }
            }
        }
    }

    /// The region list of an old GNU sparse header and its extensions.
    fn gnu_sparse(&mut self, h: &[u8; BLOCK]) -> io::Result<(Vec<(u64, u64)>, u64)> {
        let mut regions = Vec::new();
        let mut add = |e: &[u8]| -> io::Result<()> {
            let (o, l) = (number(&e[0..12])?, number(&e[12..24])?);
            if o != 0 || l != 0 {
                regions.push((o, l));
            }
            Ok(())
        };
        for i in 0..4 {
            add(&h[386 + i * 24..386 + (i + 1) * 24])?;
        }
        let real = number(&h[483..495])?;
        let mut extended = h[482] != 0;
        while extended {
            let mut x = [0u8; BLOCK];
            if !self.block(&mut x)? {
                return Err(bad("archive ends inside a sparse header"));
            }
            for i in 0..21 {
                add(&x[i * 24..(i + 1) * 24])?;
            }
            extended = x[504] != 0;
        }
        Ok((regions, real))
    }

    /// Reads data of the current member.
    pub fn data(&mut self) -> impl Read + '_ {
        DataReader { t: self }
    }
}

struct DataReader<'a, R: Read> {
    t: &'a mut TarReader<R>,
}

impl<R: Read> Read for DataReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.t.remaining == 0 {
            return Ok(0);
        }
        let k = buf
            .len()
            .min(usize::try_from(self.t.remaining).unwrap_or(usize::MAX));
        let n = self.t.r.read(&mut buf[..k])?;
        if n == 0 {
            return Err(bad("archive ends inside a member's data"));
        }
        self.t.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records_keep_binary_values() {
        let mut data = Vec::new();
        super::super::pax::record(&mut data, "SCHILY.xattr.user.bin", b"a\nb=c\0d");
        super::super::pax::record(&mut data, "path", b"x/y");
        let r = pax_records(&data).unwrap();
        assert_eq!(
            r[0],
            ("SCHILY.xattr.user.bin".to_string(), b"a\nb=c\0d".to_vec())
        );
        assert_eq!(r[1], ("path".to_string(), b"x/y".to_vec()));
        assert!(pax_records(b"99 path=x\n").is_err());
    }

    #[test]
    fn numbers_octal_and_base256() {
        assert_eq!(number(b"0000644\0").unwrap(), 0o644);
        assert_eq!(number(b"  123 \0").unwrap(), 0o123);
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 0, 1, 0]).unwrap(), 256);
        assert_eq!(number(b"\0\0\0").unwrap(), 0);
        assert!(number(b"89\0").is_err());
    }

    #[test]
    fn base256_negative_and_overflowing_values_are_never_wrapped() {
        // GNU tar's -1 (one second before 1970) in a 12-byte field.
        assert_eq!(signed(&[0xff; 12]).unwrap(), -1);
        let mut minus = [0xffu8; 12];
        minus[11] = 0x00; // -256
        assert_eq!(signed(&minus).unwrap(), -256);
        assert!(number(&[0xff; 12]).is_err(), "a negative size is refused");
        // The largest positive 12-byte value: 2^94 - 1, past u64 and i64.
        let mut big = [0xffu8; 12];
        big[0] = 0xbf;
        assert_eq!(signed(&big).unwrap(), (1i128 << 94) - 1);
        assert!(number(&big).is_err());
        assert!(signed(&[0x80; 16]).is_err());
    }
}
