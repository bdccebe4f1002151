//! Waiting for snapshots to complete: visible and bounded.
//!
//! Input: a `poll` closure returning the state of every snapshot of a set,
//! a [`Clock`], the poll interval and the timeout. Output: `Ok` once all are
//! `completed`; an error when one is in the `error` state, or when the
//! timeout passes first. After every poll, `progress` sees the states (the
//! CLI prints a line with the percentage).
//!
//! Pure: the clock is an argument, so tests run the loop with a fake one
//! (and with snapshots that stay `pending`, which moto never shows).

use coffer_core::{Error, Kind, Result};
use std::time::{Duration, Instant};

/// How far one snapshot is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotState {
    pub snapshot_id: String,
    /// `pending`, `completed`, `error`, `recoverable`, `recovering`.
    pub state: String,
    /// 0-100, as EC2 reports it (`"42%"`).
    pub percent: u8,
    /// The state message EC2 gives for `error`.
    pub message: Option<String>,
}

/// Parses EC2's `"42%"` (anything else counts as 0).
pub fn parse_percent(p: Option<&str>) -> u8 {
    p.and_then(|p| p.trim().trim_end_matches('%').parse::<u8>().ok())
        .unwrap_or(0)
        .min(100)
}

/// The mean progress of a set, in percent.
pub fn overall_percent(states: &[SnapshotState]) -> u8 {
    if states.is_empty() {
        return 100;
    }
    let sum: u32 = states
        .iter()
        .map(|s| {
            if s.state == "completed" {
                100
            } else {
                s.percent as u32
            }
        })
        .sum();
    (sum / states.len() as u32) as u8
}

/// Time as the waiting loop sees it.
pub trait Clock {
    fn elapsed(&self) -> Duration;
    fn sleep(&mut self, d: Duration);
}

/// The real clock.
pub struct SystemClock(Instant);

impl SystemClock {
    pub fn start() -> Self {
        SystemClock(Instant::now())
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d)
    }
}

/// Polls until every snapshot is completed (see the module docs).
pub fn wait_completed(
    clock: &mut dyn Clock,
    interval: Duration,
    timeout: Duration,
    mut poll: impl FnMut() -> Result<Vec<SnapshotState>>,
    mut progress: impl FnMut(&[SnapshotState]),
) -> Result<Vec<SnapshotState>> {
    loop {
        let states = poll()?;
        progress(&states);
        if let Some(bad) = states.iter().find(|s| s.state == "error") {
            return Err(Error::at(
                Kind::Fatal,
                format!(
                    "snapshot failed (state error{})",
                    bad.message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                ),
                &bad.snapshot_id,
            ));
        }
        if states.iter().all(|s| s.state == "completed") {
            return Ok(states);
        }
        let elapsed = clock.elapsed();
        if elapsed >= timeout {
            let pending: Vec<&str> = states
                .iter()
                .filter(|s| s.state != "completed")
                .map(|s| s.snapshot_id.as_str())
                .collect();
            return Err(Error::at(
                Kind::Fatal,
                format!(
                    "timed out after {}s waiting for snapshots ({}% done); they continue in the background, see `coffer ec2 list`",
                    timeout.as_secs(),
                    overall_percent(&states)
                ),
                pending.join(" "),
            ));
        }
        clock.sleep(interval.min(timeout - elapsed));
    }
}

/// Durations on the command line (`--timeout`): shared with `--retry-lock`.
pub use coffer_core::parse_duration;

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeClock(Duration);
    impl Clock for FakeClock {
        fn elapsed(&self) -> Duration {
            self.0
        }
        fn sleep(&mut self, d: Duration) {
            self.0 += d;
        }
    }

    fn st(id: &str, state: &str, pct: u8) -> SnapshotState {
        SnapshotState {
            snapshot_id: id.into(),
            state: state.into(),
            percent: pct,
            message: None,
        }
    }

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn waits_through_pending_until_completed() {
        let script = [
            vec![st("a", "pending", 0), st("b", "pending", 10)],
            vec![st("a", "pending", 50), st("b", "completed", 100)],
            vec![st("a", "completed", 100), st("b", "completed", 100)],
        ];
        let mut i = 0;
        let mut seen = Vec::new();
        let mut clock = FakeClock(Duration::ZERO);
        let r = wait_completed(
            &mut clock,
            15 * SEC,
            600 * SEC,
            || {
                i += 1;
                Ok(script[i - 1].clone())
            },
            |s| seen.push(overall_percent(s)),
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(seen, vec![5, 75, 100]);
        assert_eq!(clock.0, 30 * SEC, "two sleeps of the interval");
    }

    #[test]
    fn a_snapshot_that_stays_pending_times_out() {
        let mut clock = FakeClock(Duration::ZERO);
        let mut polls = 0;
        let e = wait_completed(
            &mut clock,
            15 * SEC,
            40 * SEC,
            || {
                polls += 1;
                Ok(vec![st("snap-1", "pending", 42)])
            },
            |_| {},
        )
        .unwrap_err();
        assert!(e.to_string().contains("timed out after 40s"), "{e}");
        assert!(e.to_string().contains("42% done"), "{e}");
        assert_eq!(e.location(), Some("snap-1"));
        assert_eq!(polls, 4, "at 0, 15, 30 and 40 s");
        assert_eq!(clock.0, 40 * SEC, "never sleeps past the timeout");
    }

    #[test]
    fn an_error_state_stops_at_once() {
        let mut clock = FakeClock(Duration::ZERO);
        let mut bad = st("snap-2", "error", 3);
        bad.message = Some("volume gone".into());
        let e = wait_completed(&mut clock, SEC, 60 * SEC, || Ok(vec![bad.clone()]), |_| {})
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "snapshot failed (state error: volume gone): snap-2"
        );
        assert_eq!(clock.0, Duration::ZERO);
    }

    #[test]
    fn zero_timeout_polls_once() {
        let mut clock = FakeClock(Duration::ZERO);
        let r = wait_completed(
            &mut clock,
            SEC,
            Duration::ZERO,
            || Ok(vec![st("a", "completed", 100)]),
            |_| {},
        );
        assert!(r.is_ok());
    }

    #[test]
    fn durations_and_percents_parse() {
        assert_eq!(parse_duration("90").unwrap(), 90 * SEC);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400 * SEC);
        assert_eq!(parse_duration("2d").unwrap(), 172800 * SEC);
        for bad in ["", "h", "5x", "1h5", "-3s", "99999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_percent(Some("42%")), 42);
        assert_eq!(parse_percent(Some("junk")), 0);
        assert_eq!(parse_percent(None), 0);
    }
}
