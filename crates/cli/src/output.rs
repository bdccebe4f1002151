//! Rendering helpers shared by the commands: sizes, times, modes, JSON.

use coffer_core::format::tree::Node;
use coffer_core::format::tree::NodeKind;
use coffer_core::{Error, Result};

/// One JSON document on one line (status lines may precede it).
pub fn json<T: serde::Serialize>(v: &T) -> Result<()> {
    let s =
        serde_json::to_string(v).map_err(|e| Error::fatal(format!("cannot encode JSON ({e})")))?;
    println!("{s}");
    Ok(())
}

/// A path on one line whatever its bytes: control characters (a newline
/// in a file name) and a backslash are escaped as `\n`, `\x1b`, `\\`;
/// bytes that are not UTF-8 show as U+FFFD. For logs read line by line
/// (journald, grep).
pub fn one_line(path: &std::path::Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// 1536 -> "1.5 KiB".
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// ns since the epoch -> "2026-11-29 09:14:03 -0500" in the local zone, or
/// "2026-11-29 14:14:03 UTC" with `utc`: a time shown always carries its
/// zone (`forget` counts days in the same one).
pub fn time(ns: i64, utc: bool) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(ns);
    if utc {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    } else {
        t.with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S %z")
            .to_string()
    }
}

/// Width of a [`time`] column.
pub const TIME_WIDTH: usize = 25;

/// ns since the epoch -> RFC 3339 in UTC with ns.
pub fn time_rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp(
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )
    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
    .unwrap_or_else(|| ns.to_string())
}

/// `-rwsr-xr-x` as `ls -l` shows it.
pub fn mode_string(n: &Node) -> String {
    let t = match n.kind {
        NodeKind::File => '-',
        NodeKind::Dir => 'd',
        NodeKind::Symlink => 'l',
        NodeKind::Chardev => 'c',
        NodeKind::Blockdev => 'b',
        NodeKind::Fifo => 'p',
        NodeKind::Socket => 's',
    };
    let m = n.mode;
    let bit = |mask: u32, c: char| if m & mask != 0 { c } else { '-' };
    let special = |x: bool, s: bool, lower: char, upper: char| match (x, s) {
        (true, true) => lower,
        (false, true) => upper,
        (true, false) => 'x',
        (false, false) => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(t);
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(special(m & 0o100 != 0, m & 0o4000 != 0, 's', 'S'));
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(special(m & 0o010 != 0, m & 0o2000 != 0, 's', 'S'));
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(special(m & 0o001 != 0, m & 0o1000 != 0, 't', 'T'));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_render_like_ls() {
        let n = |kind, mode| Node {
            kind,
            mode,
            ..Default::default()
        };
        assert_eq!(mode_string(&n(NodeKind::File, 0o4755)), "-rwsr-xr-x");
        assert_eq!(mode_string(&n(NodeKind::Dir, 0o1777)), "drwxrwxrwt");
        assert_eq!(mode_string(&n(NodeKind::File, 0o2644)), "-rw-r-Sr--");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(12), "12 B");
    }

    #[test]
    fn times_carry_their_zone() {
        // 2024-03-05 03:30:00 UTC
        let ns = 1_709_609_400 * 1_000_000_000;
        assert_eq!(time(ns, true), "2024-03-05 03:30:00 UTC");
        let local = time(ns, false);
        assert_eq!(local.len(), TIME_WIDTH, "{local}");
        assert!(
            local[19..].starts_with([' ']) && local[20..].starts_with(['+', '-']),
            "{local}"
        );
    }
}
