//! POSIX pax (ustar + extended headers) member headers, the dialect GNU tar
//! writes with `--posix --xattrs --acls -S` and reads back.
//!
//! Input: a member path (raw bytes, any length, any encoding), a [`Node`]
//! and, for sparse files, their data regions. Output: the 512-byte blocks
//! that precede the member's data.
//! Invariants: every value that does not fit its ustar field (long or
//! non-ASCII names, big ids and sizes, ns times, xattrs) goes into a pax
//! record, so nothing is truncated; ustar fields hold what fits (or 0) so
//! old readers still get a usable entry. Xattrs are `SCHILY.xattr.NAME`
//! with the raw value; POSIX ACLs are also given as `SCHILY.acl.access` /
//! `SCHILY.acl.default` text (what GNU tar's `--acls` applies).

use crate::format::tree::{Node, NodeKind};

pub const BLOCK: usize = 512;

/// ustar type flags.
pub const REGULAR: u8 = b'0';
pub const HARDLINK: u8 = b'1';
pub const SYMLINK: u8 = b'2';
pub const CHARDEV: u8 = b'3';
pub const BLOCKDEV: u8 = b'4';
pub const DIRECTORY: u8 = b'5';
pub const FIFO: u8 = b'6';
pub const PAX_LOCAL: u8 = b'x';

/// What precedes one member's data.
pub struct Header {
    /// Whole blocks: the pax header member (if any) and the ustar header.
    pub blocks: Vec<u8>,
    /// Bytes of data that follow (the sparse map included), before padding.
    pub data_len: u64,
    /// The sparse map block(s) to write before the data regions.
    pub sparse_map: Vec<u8>,
}

/// One `"LEN key=value\n"` record; LEN counts the whole record.
pub fn record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// ns since the epoch as a pax time: `secs[.frac]`, negative allowed.
pub fn pax_time(ns: i64) -> String {
    let ns = ns as i128;
    let sign = if ns < 0 { "-" } else { "" };
    let abs = ns.unsigned_abs();
    let (secs, frac) = (abs / 1_000_000_000, abs % 1_000_000_000);
    if frac == 0 {
        format!("{sign}{secs}")
    } else {
        let f = format!("{frac:09}");
        format!("{sign}{secs}.{}", f.trim_end_matches('0'))
    }
}

/// Writes `v` as octal into `field` (NUL-terminated); false if it does not fit.
fn octal(field: &mut [u8], v: u64) -> bool {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    if s.len() > digits {
        field[..digits].fill(b'0');
        field[digits] = 0;
        return false;
    }
    field[..digits].copy_from_slice(s.as_bytes());
    field[digits] = 0;
    true
}

fn checksum(h: &mut [u8; BLOCK]) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
}

/// Copies `v` into `field` if it fits; else the field gets a truncated copy
/// and false is returned (the caller adds a pax record).
fn text(field: &mut [u8], v: &[u8]) -> bool {
    let n = v.len().min(field.len());
    field[..n].copy_from_slice(&v[..n]);
    v.len() <= field.len()
}

/// A plain ustar header block.
#[allow(clippy::too_many_arguments)]
fn ustar(
    name: &[u8],
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: i64,
    flag: u8,
    link: &[u8],
    user: &str,
    group: &str,
    rdev: (u64, u64),
) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    text(&mut h[0..100], name);
    octal(&mut h[100..108], u64::from(mode & 0o7777));
    octal(&mut h[108..116], uid);
    octal(&mut h[116..124], gid);
    octal(&mut h[124..136], size);
    octal(
        &mut h[136..148],
        u64::try_from(mtime.div_euclid(1_000_000_000)).unwrap_or(0),
    );
    h[156] = flag;
    text(&mut h[157..257], link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    text(&mut h[265..297], user.as_bytes());
    text(&mut h[297..329], group.as_bytes());
    if matches!(flag, CHARDEV | BLOCKDEV) {
        octal(&mut h[329..337], rdev.0);
        octal(&mut h[337..345], rdev.1);
    }
    checksum(&mut h);
    h
}

fn pad(v: &mut Vec<u8>) {
    let rem = v.len() % BLOCK;
    if rem != 0 {
        v.resize(v.len() + BLOCK - rem, 0);
    }
}

/// Major and minor of a Linux device number.
pub fn dev_split(rdev: u64) -> (u64, u64) {
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    (major, minor)
}

/// The Linux device number of (major, minor).
pub fn dev_join(major: u64, minor: u64) -> u64 {
    ((major & 0xfff) << 8) | ((major & !0xfff) << 32) | (minor & 0xff) | ((minor & !0xff) << 12)
}

/// The tar type flag of a node (`None`: sockets, which tar cannot hold).
pub fn flag_of(kind: NodeKind) -> Option<u8> {
    Some(match kind {
        NodeKind::File => REGULAR,
        NodeKind::Dir => DIRECTORY,
        NodeKind::Symlink => SYMLINK,
        NodeKind::Chardev => CHARDEV,
        NodeKind::Blockdev => BLOCKDEV,
        NodeKind::Fifo => FIFO,
        NodeKind::Socket => return None,
    })
}

/// The last component of `path` (for the pax header member's own name).
fn base(path: &[u8]) -> &[u8] {
    let p = path.strip_suffix(b"/").unwrap_or(path);
    match p.iter().rposition(|&b| b == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

fn is_portable(v: &[u8]) -> bool {
    v.iter().all(|&b| (0x20..0x7f).contains(&b))
}

/// The sparse map of pax format 1.0 (decimal lines, padded to a block):
/// the count, then offset and length of each data region; a file that
/// ends in a hole gets a final empty region at its size.
fn sparse_map(regions: &[(u64, u64)], size: u64) -> Vec<u8> {
    let mut list: Vec<(u64, u64)> = regions.to_vec();
    if list.last().map_or(0, |&(o, l)| o + l) < size || list.is_empty() {
        list.push((size, 0));
    }
    let mut m = format!("{}\n", list.len()).into_bytes();
    for (o, l) in list {
        m.extend_from_slice(format!("{o}\n{l}\n").as_bytes());
    }
    pad(&mut m);
    m
}

/// The largest owner id a ustar field holds.
const MAX_ID: u64 = 0o7777777;

/// The headers of one member. `link` is set for a hardlink to an earlier
/// member (then no data follows); `regions` is set for a sparse file
/// (its data regions, sorted).
pub fn header(
    path: &[u8],
    node: &Node,
    link: Option<&[u8]>,
    regions: Option<&[(u64, u64)]>,
) -> Header {
    let flag = match link {
        Some(_) => HARDLINK,
        None => flag_of(node.kind).unwrap_or(REGULAR),
    };
    let mut pax = Vec::new();
    let mut name: &[u8] = path;
    let sparse_name;
    let mut sparse = Vec::new();
    let mut data_len = if flag == REGULAR { node.size } else { 0 };
    if let (Some(regions), REGULAR) = (regions, flag) {
        sparse = sparse_map(regions, node.size);
        data_len = sparse.len() as u64 + regions.iter().map(|r| r.1).sum::<u64>();
        record(&mut pax, "GNU.sparse.major", b"1");
        record(&mut pax, "GNU.sparse.minor", b"0");
        record(&mut pax, "GNU.sparse.name", path);
        record(
            &mut pax,
            "GNU.sparse.realsize",
            node.size.to_string().as_bytes(),
        );
        let mut n = b"GNUSparseFile.0/".to_vec();
        n.extend_from_slice(base(path));
        sparse_name = n;
        name = &sparse_name;
    }
    if name.len() > 100 || !is_portable(name) {
        record(&mut pax, "path", name);
    }
    let target: &[u8] = match (link, &node.target) {
        (Some(l), _) => l,
        (None, Some(t)) if flag == SYMLINK => t,
        _ => b"",
    };
    if target.len() > 100 || !is_portable(target) {
        record(&mut pax, "linkpath", target);
    }
    metadata_records(&mut pax, node, link.is_none(), data_len);
    let mut blocks = Vec::with_capacity(3 * BLOCK);
    if !pax.is_empty() {
        pax_block(&mut blocks, name, &pax, node.mtime);
    }
    let mut short = name.to_vec();
    short.truncate(100);
    let user = if node.user.len() <= 31 {
        node.user.as_str()
    } else {
        ""
    };
    let group = if node.group.len() <= 31 {
        node.group.as_str()
    } else {
        ""
    };
    let h = ustar(
        &short,
        node.mode,
        u64::from(node.uid).min(MAX_ID),
        u64::from(node.gid).min(MAX_ID),
        data_len.min(0o77777777777),
        node.mtime,
        flag,
        target,
        user,
        group,
        dev_split(node.rdev),
    );
    blocks.extend_from_slice(&h);
    Header {
        blocks,
        data_len,
        sparse_map: sparse,
    }
}

/// Appends the local pax header (`x`) carrying `pax` for the member `name`.
fn pax_block(blocks: &mut Vec<u8>, name: &[u8], pax: &[u8], mtime: i64) {
    let mut pname = b"PaxHeaders/".to_vec();
    pname.extend_from_slice(base(name));
    pname.truncate(100);
    let h = ustar(
        &pname,
        0o644,
        0,
        0,
        pax.len() as u64,
        mtime,
        PAX_LOCAL,
        b"",
        "",
        "",
        (0, 0),
    );
    blocks.extend_from_slice(&h);
    blocks.extend_from_slice(pax);
    pad(blocks);
}

/// The pax records of what the ustar fields cannot hold (large ids and
/// sizes, long or non-portable names), the times, and (`with_xattrs`: not
/// for a hardlink) the xattrs and ACLs.
fn metadata_records(pax: &mut Vec<u8>, node: &Node, with_xattrs: bool, data_len: u64) {
    if u64::from(node.uid) > MAX_ID {
        record(pax, "uid", node.uid.to_string().as_bytes());
    }
    if u64::from(node.gid) > MAX_ID {
        record(pax, "gid", node.gid.to_string().as_bytes());
    }
    if data_len > 0o77777777777 {
        record(pax, "size", data_len.to_string().as_bytes());
    }
    if node.user.len() > 31 || !is_portable(node.user.as_bytes()) {
        record(pax, "uname", node.user.as_bytes());
    }
    if node.group.len() > 31 || !is_portable(node.group.as_bytes()) {
        record(pax, "gname", node.group.as_bytes());
    }
    record(pax, "mtime", pax_time(node.mtime).as_bytes());
    if node.atime != 0 {
        record(pax, "atime", pax_time(node.atime).as_bytes());
    }
    if with_xattrs {
        for x in &node.xattrs {
            let xname = String::from_utf8_lossy(&x.name);
            if let Some(kind) = acl_kind(&x.name)
                && let Some(t) = acl_text(&x.value)
            {
                record(pax, kind, t.as_bytes());
            }
            record(pax, &format!("SCHILY.xattr.{xname}"), &x.value);
        }
    }
}

/// The pax keyword of an ACL xattr's text form, if `name` is one.
fn acl_kind(name: &[u8]) -> Option<&'static str> {
    match name {
        b"system.posix_acl_access" => Some("SCHILY.acl.access"),
        b"system.posix_acl_default" => Some("SCHILY.acl.default"),
        _ => None,
    }
}

const ACL_USER_OBJ: u16 = 0x01;
const ACL_USER: u16 = 0x02;
const ACL_GROUP_OBJ: u16 = 0x04;
const ACL_GROUP: u16 = 0x08;
const ACL_MASK: u16 = 0x10;
const ACL_OTHER: u16 = 0x20;

/// The Linux binary ACL xattr as `acl_to_text` short form, one entry per
/// line with numeric ids (`user:1000:r--`); `None` if it is malformed.
pub fn acl_text(value: &[u8]) -> Option<String> {
    if value.len() < 4 || !(value.len() - 4).is_multiple_of(8) || value[..4] != [2, 0, 0, 0] {
        return None;
    }
    let mut out = String::new();
    for e in value[4..].chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u16::from_le_bytes([e[2], e[3]]);
        let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        let who = match tag {
            ACL_USER_OBJ => "user::".to_string(),
            ACL_USER => format!("user:{id}:"),
            ACL_GROUP_OBJ => "group::".to_string(),
            ACL_GROUP => format!("group:{id}:"),
            ACL_MASK => "mask::".to_string(),
            ACL_OTHER => "other::".to_string(),
            _ => return None,
        };
        out.push_str(&who);
        for (bit, c) in [(4, 'r'), (2, 'w'), (1, 'x')] {
            out.push(if perm & bit != 0 { c } else { '-' });
        }
        out.push('\n');
    }
    Some(out)
}

/// Parses `acl_to_text` output (as GNU tar stores it: names or numeric
/// ids, `,` or newline separated) back into the binary xattr; names are
/// looked up with `uid_of` / `gid_of`. `None` if it is malformed.
pub fn acl_binary(
    text: &str,
    uid_of: &dyn Fn(&str) -> Option<u32>,
    gid_of: &dyn Fn(&str) -> Option<u32>,
) -> Option<Vec<u8>> {
    let mut entries: Vec<(u16, u16, u32)> = Vec::new();
    for e in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let e = e.split('#').next().unwrap_or("").trim();
        let mut parts = e.split(':');
        let (kind, who, perms) = (parts.next()?, parts.next()?, parts.next()?);
        let perm = perms.chars().try_fold(0u16, |p, c| match c {
            'r' => Some(p | 4),
            'w' => Some(p | 2),
            'x' => Some(p | 1),
            '-' => Some(p),
            _ => None,
        })?;
        let undefined = u32::MAX;
        let (tag, id) = match (kind, who) {
            ("user" | "u", "") => (ACL_USER_OBJ, undefined),
            ("user" | "u", w) => (ACL_USER, w.parse().ok().or_else(|| uid_of(w))?),
            ("group" | "g", "") => (ACL_GROUP_OBJ, undefined),
            ("group" | "g", w) => (ACL_GROUP, w.parse().ok().or_else(|| gid_of(w))?),
            ("mask" | "m", _) => (ACL_MASK, undefined),
            ("other" | "o", _) => (ACL_OTHER, undefined),
            _ => return None,
        };
        entries.push((tag, perm, id));
    }
    // The kernel wants entries sorted by tag, then id.
    entries.sort_by_key(|&(t, _, id)| (t, id));
    let mut out = vec![2, 0, 0, 0];
    for (t, p, id) in entries {
        out.extend_from_slice(&t.to_le_bytes());
        out.extend_from_slice(&p.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Some(out)
}
