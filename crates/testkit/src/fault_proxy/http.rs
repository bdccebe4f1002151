//! Just enough HTTP/1.1 for the fault proxy: read one message (head and
//! body, by Content-Length or chunked), write one back. Bodies are held
//! whole: the proxy exists to cut them.

use std::io::{self, BufRead, BufReader, Read, Write};

/// A request or response: the first line, the headers, the body.
#[derive(Debug, Clone)]
pub struct Message {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    pub fn set_header(&mut self, name: &str, value: String) {
        self.remove_header(name);
        self.headers.push((name.to_string(), value));
    }

    /// Writes the head and `body` (which may differ from `self.body`: cut).
    pub fn write_with(&self, w: &mut impl Write, body: &[u8]) -> io::Result<()> {
        let mut head = format!("{}\r\n", self.start);
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        w.write_all(head.as_bytes())?;
        w.write_all(body)?;
        w.flush()
    }

    pub fn write(&self, w: &mut impl Write) -> io::Result<()> {
        self.write_with(w, &self.body)
    }
}

/// Reads the head of a message; `None` at a clean end of stream.
pub fn read_head(r: &mut BufReader<impl Read>) -> io::Result<Option<Message>> {
    let mut start = String::new();
    if r.read_line(&mut start)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "head cut"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Some(Message {
        start: start.trim_end_matches(['\r', '\n']).to_string(),
        headers,
        body: Vec::new(),
    }))
}

/// Reads the body that `m`'s headers announce; with `to_eof`, a body with
/// no length runs to the end of the stream (responses).
pub fn read_body(r: &mut BufReader<impl Read>, m: &mut Message, to_eof: bool) -> io::Result<()> {
    if m.header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut line = String::new();
            r.read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers up to the empty line.
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t)? == 0 || t.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let at = m.body.len();
            m.body.resize(at + size, 0);
            r.read_exact(&mut m.body[at..])?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
        }
        m.remove_header("transfer-encoding");
        m.set_header("Content-Length", m.body.len().to_string());
    } else if let Some(n) = m.header("content-length") {
        let n: usize = n
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        m.body.resize(n, 0);
        r.read_exact(&mut m.body)?;
    } else if to_eof {
        r.read_to_end(&mut m.body)?;
        m.set_header("Content-Length", m.body.len().to_string());
    }
    Ok(())
}

/// An S3 error answer, as the server would send it.
pub fn s3_error(status: u16, reason: &str, code: &str, message: &str) -> Message {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    .into_bytes();
    Message {
        start: format!("HTTP/1.1 {status} {reason}"),
        headers: vec![
            ("Content-Type".into(), "application/xml".into()),
            ("Content-Length".into(), body.len().to_string()),
        ],
        body,
    }
}
