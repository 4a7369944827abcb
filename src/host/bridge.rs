//! A minimal HTTP/1.1 client for the fleet bridge (webdis), for hosts that call it themselves
//! rather than through their proxy (the native Envoy filter's sync thread): one `PUT` per new
//! connection, its answer read by `content-length` (or to the connection's close), with one
//! deadline for the whole exchange and a size limit. The answer is hostile input: anything but
//! a plain HTTP/1 answer is an error string (the fleet client counts it as a failed round trip).
//!
//! Deliberately not here: TLS, redirects, keep-alive, chunked answers (webdis sends
//! `content-length`), DNS (the bridge is an address).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// `PUT path` with `body` to the bridge on a new connection: (status, body) of its answer, or
/// what went wrong. The answer is read until its `content-length` (or the connection's end)
/// within `timeout`, refused beyond `limit` bytes.
pub fn put(bridge: SocketAddr, path: &str, body: &[u8], timeout: Duration, limit: usize) -> Result<(u16, Vec<u8>), String> {
    let deadline = Instant::now() + timeout;
    let io = |what: &str, e: std::io::Error| format!("{what}: {}", e.kind());
    let mut s = TcpStream::connect_timeout(&bridge, timeout).map_err(|e| io("connect", e))?;
    let _ = s.set_nodelay(true);
    s.set_write_timeout(Some(timeout)).map_err(|e| io("socket", e))?;
    // No `connection: close`: webdis 0.1.9 (Debian's) never answers a request carrying it whose
    // body is not all in its first read (upstream issue #194). The answer is read by its
    // `content-length` and the connection dropped here.
    let head = format!("PUT {path} HTTP/1.1\r\nhost: {bridge}\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\n\r\n", body.len());
    s.write_all(head.as_bytes()).and_then(|()| s.write_all(body)).map_err(|e| io("send", e))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 << 10];
    loop {
        if let Some(done) = answer(&buf)? {
            return Ok(done);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("no answer within fleet.timeout_ms".into());
        }
        s.set_read_timeout(Some(left)).map_err(|e| io("socket", e))?;
        match s.read(&mut chunk) {
            Ok(0) => return answer_at_close(&buf),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err("no answer within fleet.timeout_ms".into())
            }
            Err(e) => return Err(io("receive", e)),
        }
        if buf.len() > limit {
            return Err("answer larger than fleet.max_reply_bytes".into());
        }
    }
}

/// The status line and header block of `buf`: (status, `content-length`, where the body
/// starts), `None` while incomplete.
fn head(buf: &[u8]) -> Result<Option<(u16, Option<usize>, usize)>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { return Ok(None) };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| "answer head not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1."))
        .and_then(|l| l.get(2..5))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| "not an HTTP/1 answer".to_string())?;
    let mut length = None;
    for line in lines {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse::<usize>().map_err(|_| "bad content-length".to_string())?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") && !value.trim().eq_ignore_ascii_case("identity") {
            return Err(format!("answer in transfer-encoding {} (not read)", value.trim()));
        }
    }
    Ok(Some((status, length, end + 4)))
}

/// The whole answer once `buf` holds it (by its `content-length`).
fn answer(buf: &[u8]) -> Result<Option<(u16, Vec<u8>)>, String> {
    Ok(match head(buf)? {
        Some((status, Some(len), at)) if buf.len() >= at + len => Some((status, buf[at..at + len].to_vec())),
        _ => None,
    })
}

/// The answer when the bridge closed the connection: without a `content-length`, the body
/// runs to the close; with one, it must be complete.
fn answer_at_close(buf: &[u8]) -> Result<(u16, Vec<u8>), String> {
    match head(buf)? {
        Some((status, None, at)) => Ok((status, buf[at..].to_vec())),
        Some(_) => Err("answer cut short".into()),
        None if buf.is_empty() => Err("connection closed without an answer".into()),
        None => Err("answer head cut short".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_by_length_or_to_the_close() {
        assert_eq!(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc").unwrap(), Some((200, b"abc".to_vec())));
        assert_eq!(answer(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nab").unwrap(), None);
        assert_eq!(answer(b"HTTP/1.1 200 OK\r\nContent-Len").unwrap(), None);
        assert_eq!(answer_at_close(b"HTTP/1.0 403 Forbidden\r\nServer: x\r\n\r\nno").unwrap(), (403, b"no".to_vec()));
        assert!(answer_at_close(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab").is_err());
        assert!(answer_at_close(b"").is_err());
        for bad in [&b"SSH-2.0\r\n\r\n"[..], b"HTTP/1.1 2x0 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", b"HTTP/1.1 200 \xff\r\n\r\n"] {
            assert!(answer(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn an_answer_is_taken_at_its_length_without_waiting_for_the_close() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = server.accept().unwrap();
            let mut got = Vec::new();
            let mut b = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") || !got.ends_with(b"delta") {
                let n = c.read(&mut b).unwrap();
                assert!(n > 0);
                got.extend_from_slice(&b[..n]);
            }
            c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").unwrap();
            c.write_all(b"reply").unwrap();
            std::thread::sleep(Duration::from_millis(1500)); // the connection stays open
            String::from_utf8(got).unwrap()
        });
        let start = Instant::now();
        assert_eq!(put(addr, "/FCALL/x", b"delta", Duration::from_millis(1000), 1 << 20).unwrap(), (200, b"reply".to_vec()));
        assert!(start.elapsed() < Duration::from_millis(1000));
        let request = t.join().unwrap();
        assert!(request.starts_with("PUT /FCALL/x HTTP/1.1\r\n") && request.contains("content-length: 5\r\n"), "{request}");
    }

    #[test]
    fn a_silent_or_absent_bridge_is_a_failed_round_trip_within_the_timeout() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let t = Instant::now();
        let e = put(silent.local_addr().unwrap(), "/x", b"body", Duration::from_millis(200), 1 << 20).unwrap_err();
        assert!(e.contains("no answer"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2));
        let gone = silent.local_addr().unwrap();
        drop(silent);
        assert!(put(gone, "/x", b"", Duration::from_millis(200), 1 << 20).unwrap_err().starts_with("connect"));
    }
}
