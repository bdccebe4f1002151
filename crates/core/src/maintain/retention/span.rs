//! Calendar spans for `--keep-within`: `2d`, `1y2m3d4h`, `36h`.
//!
//! Input: a string of `<number><unit>` parts, units `y` (years), `m`
//! (months), `d` (days), `h` (hours), in any order; repeated units add up.
//! Output: a [`Span`] that is subtracted from a time on the calendar (UTC):
//! years and months first (a day that does not exist in the target month is
//! clamped to its last day: 31 March minus 1m is 28/29 February), then days,
//! then hours. Invariant: a parsed span is never zero.

use crate::error::{Error, Result};
use chrono::{DateTime, Days, Months, Utc};
use std::fmt;

/// A calendar span: years, months, days and hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Span {
    pub years: u32,
    pub months: u32,
    pub days: u32,
    pub hours: u32,
}

impl Span {
    /// Parses `1y2m3d4h` (see the module documentation).
    pub fn parse(s: &str) -> Result<Span> {
        let bad = |why: &str| {
            Error::invalid(format!(
                "invalid duration ({why}; expected e.g. 2d, 36h or 1y2m3d4h)"
            ))
            .with_location(s)
        };
        let mut span = Span::default();
        let mut digits = String::new();
        for c in s.trim().chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            if digits.is_empty() {
                return Err(bad("a unit without a number"));
            }
            let n: u32 = digits.parse().map_err(|_| bad("number too large"))?;
            digits.clear();
            let field = match c {
                'y' => &mut span.years,
                'm' => &mut span.months,
                'd' => &mut span.days,
                'h' => &mut span.hours,
                _ => return Err(bad("unknown unit")),
            };
            *field = field
                .checked_add(n)
                .ok_or_else(|| bad("number too large"))?;
        }
        if !digits.is_empty() {
            return Err(bad("a number without a unit"));
        }
        if span == Span::default() {
            return Err(bad("it must be longer than zero"));
        }
        Ok(span)
    }

    /// `t` minus this span on the UTC calendar; `None` if that is before
    /// the earliest time chrono represents (then everything is "within").
    pub fn before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let months = self.years.checked_mul(12)?.checked_add(self.months)?;
        t.checked_sub_months(Months::new(months))?
            .checked_sub_days(Days::new(self.days as u64))?
            .checked_sub_signed(chrono::TimeDelta::try_hours(self.hours as i64)?)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, unit) in [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ] {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn parses_units_in_any_order() {
        let s = Span::parse("1y2m3d4h").unwrap();
        assert_eq!((s.years, s.months, s.days, s.hours), (1, 2, 3, 4));
        assert_eq!(s.to_string(), "1y2m3d4h");
        assert_eq!(Span::parse("4h1d").unwrap().to_string(), "1d4h");
        assert_eq!(Span::parse("1d1d").unwrap().days, 2);
        assert_eq!(Span::parse("36h").unwrap().hours, 36);
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        for bad in [
            "",
            "d",
            "2",
            "2w",
            "-2d",
            "2.5d",
            "0d",
            "99999999999d",
            "2d ",
            "d2",
        ] {
            let r = Span::parse(bad);
            if bad == "2d " {
                assert!(r.is_ok(), "surrounding spaces are trimmed");
                continue;
            }
            let e = r.unwrap_err();
            assert!(e.to_string().contains("invalid duration"), "{bad}: {e}");
        }
        let huge = Span {
            years: u32::MAX,
            ..Default::default()
        };
        assert_eq!(huge.before(t("2024-01-01T00:00:00Z")), None);
    }

    #[test]
    fn subtracts_on_the_calendar() {
        let s = |x| Span::parse(x).unwrap();
        assert_eq!(
            s("1m").before(t("2024-03-31T12:00:00Z")),
            Some(t("2024-02-29T12:00:00Z")),
            "clamped to the end of a shorter month"
        );
        assert_eq!(
            s("1y").before(t("2024-02-29T00:00:00Z")),
            Some(t("2023-02-28T00:00:00Z"))
        );
        assert_eq!(
            s("1y2m3d4h").before(t("2024-05-10T10:00:00Z")),
            Some(t("2023-03-07T06:00:00Z"))
        );
    }
}
