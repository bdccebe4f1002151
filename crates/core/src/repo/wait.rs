//! Durations given on the command line: how long to wait for a lock
//! (`--retry-lock`) or for AWS (`ec2 --timeout`).

use crate::error::{Error, Result};

/// Parses a duration given on the command line (`--retry-lock`, `ec2
/// --timeout`): `90s`, `15m`, `2h`, `1h30m`, `2d`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let bad = || {
        Error::invalid("invalid duration (expected e.g. 90s, 15m, 2h or 1h30m)").with_location(s)
    };
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() || s.is_empty() {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs(total))
}
