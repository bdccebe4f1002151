//! A loopback HTTP/1.1 proxy that misbehaves like a real S3 endpoint under
//! load, in front of the S3 test server. Tests start it on 127.0.0.1:0 and
//! point coffer at [`FaultProxy::endpoint`].
//!
//! Faults, each with its own rate (the share of the requests it applies to
//! that get it; the first one drawn wins):
//!
//! | fault | applies to | what happens |
//! | --- | --- | --- |
//! | `slow_down` | every request | 503 SlowDown, request not forwarded |
//! | `error_after_write` | PUT, POST, DELETE | forwarded (it happened), then 500 |
//! | `drop_before_response` | every request | forwarded, connection closed, no answer |
//! | `drop_during_body` | answers with a body | forwarded, half the body sent, connection closed |
//! | `short_body` | GET of an object | forwarded, Content-Length rewritten to half, half sent |
//! | `slow` | every request | forwarded, answer held back `slow_delay` (past the client's timeout) |
//!
//! Decisions are a pure function of the seed, the request (method, path,
//! query) and how many times that request was seen before, so a run with
//! the same seed draws the same faults whatever the thread timing; but a
//! fault with a non-zero rate that no draw has given yet goes to the next
//! request it applies to, and every repository object kind (config, keys,
//! data, tree, index, snapshots, locks, list) meets at least two faults, so
//! a short run covers them all. After
//! `max_consecutive` faults in a row on one request the next is forwarded
//! untouched: the faults are transient, as on a real endpoint, so a client
//! that retries enough always gets through.

mod http;

use http::{Message, read_body, read_head, s3_error};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The fault kinds, in the order they are drawn.
pub const FAULTS: [&str; 6] = [
    "slow_down",
    "error_after_write",
    "drop_before_response",
    "drop_during_body",
    "short_body",
    "slow",
];

/// Rates (0.0 ..= 1.0) of each fault and the seed that draws them.
#[derive(Debug, Clone)]
pub struct Faults {
    pub slow_down: f64,
    pub error_after_write: f64,
    pub drop_before_response: f64,
    pub drop_during_body: f64,
    pub short_body: f64,
    pub slow: f64,
    /// How long a `slow` answer is held back.
    pub slow_delay: Duration,
    pub max_consecutive: u32,
    pub seed: u64,
}

impl Faults {
    /// No faults: a plain proxy.
    pub fn none() -> Faults {
        Faults {
            slow_down: 0.0,
            error_after_write: 0.0,
            drop_before_response: 0.0,
            drop_during_body: 0.0,
            short_body: 0.0,
            slow: 0.0,
            slow_delay: Duration::from_secs(3),
            max_consecutive: 3,
            seed: 1,
        }
    }

    /// Only `fault` (one of [`FAULTS`]) at `rate`.
    pub fn only(fault: &str, rate: f64) -> Faults {
        let mut f = Faults::none();
        *f.rate_mut(fault) = rate;
        f
    }

    pub fn rate(&self, fault: &str) -> f64 {
        let mut f = self.clone();
        *f.rate_mut(fault)
    }

    fn rate_mut(&mut self, fault: &str) -> &mut f64 {
        match fault {
            "slow_down" => &mut self.slow_down,
            "error_after_write" => &mut self.error_after_write,
            "drop_before_response" => &mut self.drop_before_response,
            "drop_during_body" => &mut self.drop_during_body,
            "short_body" => &mut self.short_body,
            "slow" => &mut self.slow,
            other => panic!("unknown fault {other:?}; known: {FAULTS:?}"),
        }
    }
}

/// What the proxy saw and did.
#[derive(Debug, Clone, Default)]
pub struct FaultStats {
    pub requests: u64,
    /// Faults injected, by fault kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// Faults injected, by the repository object kind the request was for
    /// (`config`, `keys`, `data`, `tree`, `index`, `snapshots`, `locks`,
    /// `list`, `other`).
    pub by_object: BTreeMap<String, u64>,
}

impl FaultStats {
    pub fn total_faults(&self) -> u64 {
        self.faults.values().sum()
    }
}

struct Shared {
    upstream: String,
    faults: Mutex<Faults>,
    stats: Mutex<FaultStats>,
    /// Per request: (times seen, faults in a row).
    seen: Mutex<HashMap<String, (u64, u32)>>,
    stop: AtomicBool,
}

/// The running proxy; stopped when dropped.
pub struct FaultProxy {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1:0 in front of `upstream`
    /// (`http://host:port`).
    pub fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            faults: Mutex::new(faults),
            stats: Mutex::default(),
            seen: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || serve(&s, conn));
            }
        });
        FaultProxy { addr, shared }
    }

    /// `http://127.0.0.1:<port>`, for `--endpoint-url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().expect("poisoned") = faults;
    }

    pub fn stats(&self) -> FaultStats {
        self.shared.stats.lock().expect("poisoned").clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// SplitMix64 of a string and numbers: the proxy's only randomness.
fn draw(seed: u64, request: &str, nth: u64, fault: usize) -> f64 {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for b in request
        .bytes()
        .chain(nth.to_le_bytes())
        .chain([fault as u8])
    {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The repository object kind a request is for.
fn object_kind(target: &str) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if query.contains("list-type") || query.contains("uploads") && !query.contains("uploadId") {
        return "list".into();
    }
    const KINDS: [&str; 7] = [
        "config",
        "keys",
        "data",
        "tree",
        "index",
        "snapshots",
        "locks",
    ];
    path.split('/')
        .find(|c| KINDS.contains(c))
        .unwrap_or("other")
        .to_string()
}

/// Faults every object kind meets at least (when faults are on at all).
const MIN_PER_OBJECT: u64 = 2;

/// Which fault (index into [`FAULTS`]) this request gets, if any.
fn decide(sh: &Shared, method: &str, target: &str) -> Option<usize> {
    let faults = sh.faults.lock().expect("poisoned").clone();
    let key = format!("{method} {target}");
    let mut seen = sh.seen.lock().expect("poisoned");
    let entry = seen.entry(key.clone()).or_default();
    let nth = entry.0;
    entry.0 += 1;
    if entry.1 >= faults.max_consecutive {
        entry.1 = 0;
        return None;
    }
    let write = matches!(method, "PUT" | "POST" | "DELETE");
    let object_get = method == "GET" && !matches!(object_kind(target).as_str(), "list" | "other");
    let applies = |name: &str| match name {
        "error_after_write" => write,
        "short_body" => object_get,
        _ => true,
    };
    let chosen = FAULTS
        .iter()
        .enumerate()
        .find(|(i, name)| applies(name) && draw(faults.seed, &key, nth, *i) < faults.rate(name))
        .or_else(|| {
            // A fault the draws have not given yet goes to the first request
            // it applies to, and an object kind that has met fewer than
            // MIN_PER_OBJECT faults gets one: a short run meets every fault
            // and every object kind, whatever the object names (random)
            // made the draws.
            let st = sh.stats.lock().expect("poisoned");
            let kind = object_kind(target);
            let kind_short = st.by_object.get(&kind).copied().unwrap_or(0) < MIN_PER_OBJECT;
            let enabled = |name: &&str| applies(name) && faults.rate(name) > 0.0;
            FAULTS
                .iter()
                .enumerate()
                .find(|(_, name)| enabled(name) && !st.faults.contains_key(**name))
                .or_else(|| {
                    FAULTS
                        .iter()
                        .enumerate()
                        .find(|(_, name)| kind_short && enabled(name))
                })
        });
    match chosen {
        Some((i, _)) => {
            entry.1 += 1;
            Some(i)
        }
        None => {
            entry.1 = 0;
            None
        }
    }
}

fn serve(sh: &Shared, client: TcpStream) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(120)));
    let Ok(mut out) = client.try_clone() else {
        return;
    };
    let mut input = BufReader::new(client);
    loop {
        let Ok(Some(mut req)) = read_head(&mut input) else {
            return;
        };
        if req
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        {
            req.remove_header("expect");
            if out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                return;
            }
        }
        if read_body(&mut input, &mut req, false).is_err() {
            return;
        }
        if !handle(sh, &req, &mut out) {
            let _ = out.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Answers one request; false when the connection must be closed.
fn handle(sh: &Shared, req: &Message, out: &mut TcpStream) -> bool {
    let mut parts = req.start.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut fault = decide(sh, &method, &target).map(|i| FAULTS[i]);
    let count = |fault: Option<&'static str>| {
        let mut st = sh.stats.lock().expect("poisoned");
        st.requests += 1;
        if let Some(f) = fault {
            *st.faults.entry(f).or_default() += 1;
            *st.by_object.entry(object_kind(&target)).or_default() += 1;
        }
    };
    let on_body = matches!(fault, Some("drop_during_body" | "short_body"));
    if !on_body {
        count(fault);
    }
    if fault == Some("slow_down") {
        let e = s3_error(
            503,
            "Slow Down",
            "SlowDown",
            "Please reduce your request rate.",
        );
        return e.write(out).is_ok();
    }
    let Some(mut resp) = forward(sh, req, &method) else {
        return false;
    };
    resp.remove_header("connection");
    if on_body {
        // Half of an empty body (a HEAD, a PUT's answer) is the whole of
        // it: no fault at all, so none is counted.
        if resp.body.len() < 2 {
            fault = None;
        }
        count(fault);
    }
    match fault {
        Some("error_after_write") => s3_error(
            500,
            "Internal Server Error",
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
        .write(out)
        .is_ok(),
        Some("drop_before_response") => false,
        Some("drop_during_body") => {
            let half = resp.body.len() / 2;
            let _ = resp.write_with(out, &resp.body[..half]);
            false
        }
        Some("short_body") => {
            let half = resp.body.len() / 2;
            resp.set_header("Content-Length", half.to_string());
            resp.write_with(out, &resp.body[..half]).is_ok()
        }
        Some("slow") => {
            let delay = sh.faults.lock().expect("poisoned").slow_delay;
            std::thread::sleep(delay);
            resp.write(out).is_ok()
        }
        _ => resp.write(out).is_ok(),
    }
}

/// Sends `req` upstream on a fresh connection and reads the whole answer.
fn forward(sh: &Shared, req: &Message, method: &str) -> Option<Message> {
    let up = TcpStream::connect(&sh.upstream).ok()?;
    let _ = up.set_read_timeout(Some(Duration::from_secs(120)));
    let mut req = req.clone();
    req.set_header("Connection", "close".into());
    let mut w = up.try_clone().ok()?;
    req.write(&mut w).ok()?;
    let mut r = BufReader::new(up);
    let mut resp = read_head(&mut r).ok()??;
    let status: u16 = resp
        .start
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if method != "HEAD" && status != 204 && status != 304 && status >= 200 {
        read_body(&mut r, &mut resp, true).ok()?;
    }
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_fixed_by_the_seed_and_spread() {
        let a: Vec<f64> = (0..1000).map(|n| draw(7, "PUT /b/k", n, 0)).collect();
        let b: Vec<f64> = (0..1000).map(|n| draw(7, "PUT /b/k", n, 0)).collect();
        assert_eq!(a, b);
        let below = a.iter().filter(|&&x| x < 0.3).count();
        assert!((200..400).contains(&below), "{below} of 1000 below 0.3");
        assert_ne!(
            a,
            (0..1000)
                .map(|n| draw(8, "PUT /b/k", n, 0))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn requests_are_sorted_by_object_kind() {
        assert_eq!(object_kind("/bkt/r/data/ab/abcd"), "data");
        assert_eq!(object_kind("/bkt/r/config"), "config");
        assert_eq!(object_kind("/bkt?list-type=2&prefix=r%2Fkeys%2F"), "list");
        assert_eq!(object_kind("/bkt/r/snapshots/ff?uploadId=1"), "snapshots");
    }
}
