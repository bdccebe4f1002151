//! `coffer import` of archives built header by header: members whose
//! names no file system can hold, and GNU base-256 numbers (negative
//! times, values past their type), are refused one by one or decoded
//! exactly, never wrapped; the snapshot written is always readable.

use crate::support::{Coffer, arg, tree_node};
use std::path::Path;

const BLOCK: usize = 512;

/// A ustar header for `name`; `patch` may overwrite fields (base-256
/// numbers) before the checksum is computed.
fn header(name: &[u8], flag: u8, size: usize, patch: impl FnOnce(&mut [u8; BLOCK])) -> Vec<u8> {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"14500000000\0");
    h[156] = flag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    patch(&mut h);
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h.to_vec()
}

/// `data` padded to whole blocks.
fn padded(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().div_ceil(BLOCK) * BLOCK, 0);
    v
}

/// A regular file member, its pax `path` record first when given.
fn member(
    name: &[u8],
    pax_path: Option<&[u8]>,
    data: &[u8],
    patch: impl FnOnce(&mut [u8; BLOCK]),
) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(p) = pax_path {
        let body = |len: usize| [format!("{len} path=").as_bytes(), p, b"\n"].concat();
        let mut len = body(0).len();
        while body(len).len() != len {
            len = body(len).len();
        }
        let rec = body(len);
        out.extend(header(b"PaxHeaders/x", b'x', rec.len(), |_| {}));
        out.extend(padded(&rec));
    }
    out.extend(header(name, b'0', data.len(), patch));
    out.extend(padded(data));
    out
}

#[test]
fn members_no_file_system_can_hold_are_refused_one_by_one() {
    let c = Coffer::init();
    let long = vec![b'x'; 300];
    let mut tar = Vec::new();
    tar.extend(member(b"nul", Some(b"bad\0name"), b"hidden", |_| {}));
    tar.extend(member(b"ok.txt", None, b"kept", |_| {}));
    tar.extend(member(
        b"long",
        Some(&[b"dir/".as_slice(), &long].concat()),
        b"x",
        |_| {},
    ));
    // One second before 1970, as GNU tar writes it: base-256, negative.
    tar.extend(member(b"old.txt", None, b"old", |h| h[136..148].fill(0xff)));
    // A time past i64 nanoseconds, and an owner past 32 bits.
    tar.extend(member(b"far.txt", None, b"far", |h| {
        h[136..148].fill(0x7f);
        h[136] = 0x80;
    }));
    tar.extend(member(b"uid.txt", None, b"uid", |h| {
        h[108..116].fill(0xff);
        h[108] = 0x80;
    }));
    tar.extend([0u8; 2 * BLOCK]);
    let path = c.path("hostile.tar");
    std::fs::write(&path, &tar).unwrap();

    let out = c.run(&["import", "--json", arg(&path)]);
    out.code(3);
    let v = out.json();
    let skipped: Vec<String> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert!(skipped[0].starts_with("bad\\0name: ") && skipped[0].contains("NUL"));
    assert!(skipped[1].contains("NAME_MAX"), "{skipped:?}");
    assert!(skipped[2].starts_with("far.txt: ") && skipped[2].contains("time"));
    assert!(skipped[3].starts_with("uid.txt: ") && skipped[3].contains("owner"));

    // The snapshot is readable by every command that reads trees.
    c.run(&["check", "--read-data"]).ok();
    let ls = c.run(&["ls", "latest"]);
    let names: Vec<&str> = ls.ok().stdout.lines().collect();
    assert!(names.iter().any(|l| l.ends_with("/ok.txt")), "{names:?}");
    assert!(names.iter().any(|l| l.ends_with("/old.txt")), "{names:?}");
    assert_eq!(names.len(), 2, "{names:?}");
    let target = c.path("restored");
    c.restore("latest", &target, &[]).ok();
    assert_eq!(std::fs::read(target.join("ok.txt")).unwrap(), b"kept");
    let old = tree_node(&c, "latest", Path::new("/old.txt"));
    assert_eq!(old["mtime"].as_i64(), Some(-1_000_000_000), "{old}");
    c.run(&["prune", "--now"]).ok();
}
