//! A response body: framed by `Content-Length`, chunked transfer coding or the end of the
//! connection, read piece by piece; the connection goes back to the pool once the body
//! has been read to its end.

use super::{Conn, Inner, Origin};
use crate::providers::ProviderError;
use bytes::{Buf, Bytes, BytesMut};
use futures::Stream;
use http::HeaderMap;
use std::sync::Arc;

/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;
/// How much of an error body is read (the message is in its first bytes).
const MAX_ERROR_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Framing {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines up to an empty one.
    Trailers,
}

pub(super) fn framing(status: u16, headers: &HeaderMap) -> Result<Framing, ProviderError> {
    if status == 204 || status == 304 {
        return Ok(Framing::Length(0));
    }
    let chunked = headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .any(|v| {
            v.to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains("chunked"))
        });
    if chunked {
        return Ok(Framing::Chunked(Chunk::Size));
    }
    // Digits only (no sign), and every Content-Length the same: anything else could frame
    // the body differently from the server.
    let mut length = None;
    for v in headers.get_all(http::header::CONTENT_LENGTH) {
        let n = v
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok());
        match (n, length) {
            (Some(n), None) => length = Some(n),
            (Some(n), Some(seen)) if n == seen => {}
            _ => {
                return Err(ProviderError::permanent(
                    "provider answered with an invalid Content-Length",
                ))
            }
        }
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
}

/// A response whose body has not been read yet.
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub(super) body: Body,
}

impl Response {
    /// The body as text, at most the first 64 kB (for error messages).
    pub async fn text(mut self) -> String {
        let mut out = Vec::new();
        while out.len() < MAX_ERROR_BODY {
            match self.body.next().await {
                Some(Ok(b)) => out.extend_from_slice(&b),
                _ => break,
            }
        }
        out.truncate(MAX_ERROR_BODY);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The body, piece by piece as it arrives. The connection is kept for reuse once the
    /// body has been read to its end; dropped earlier, it is closed.
    pub fn bytes_stream(self) -> impl Stream<Item = Result<Bytes, ProviderError>> + Send + 'static {
        futures::stream::unfold(self.body, |mut body| async move {
            body.next().await.map(|item| (item, body))
        })
    }
}

pub(super) struct Body {
    pub(super) conn: Option<Conn>,
    pub(super) framing: Framing,
    /// Whether the connection can carry another request once this body has ended.
    pub(super) reusable: bool,
    pub(super) origin: Origin,
    pub(super) pool: Arc<Inner>,
    pub(super) ended: bool,
}

fn cut(e: &dyn std::fmt::Display) -> ProviderError {
    ProviderError::retryable(format!("provider connection failed mid-answer: {e}"))
}

impl Body {
    /// The next piece of the body; `None` at its end (or after an error).
    async fn next(&mut self) -> Option<Result<Bytes, ProviderError>> {
        if self.ended {
            return None;
        }
        let item = self.step().await;
        match &item {
            Some(Ok(_)) => {}
            Some(Err(_)) => {
                self.ended = true;
                self.conn = None;
            }
            None => {
                self.ended = true;
                self.release();
            }
        }
        item
    }

    /// Give the connection back to the pool if it can carry another request.
    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.reusable && conn.buf.is_empty() {
                self.pool.put_idle(self.origin.clone(), conn.io);
            }
        }
    }

    async fn step(&mut self) -> Option<Result<Bytes, ProviderError>> {
        let conn = self.conn.as_mut()?;
        loop {
            match parse_buffered(&mut self.framing, &mut conn.buf) {
                Parsed::Piece(piece) => return Some(Ok(piece)),
                Parsed::End => return None,
                Parsed::Failed(e) => return Some(Err(e)),
                Parsed::NeedMore => match conn.fill().await {
                    Ok(0) if self.framing == Framing::UntilClose => return None,
                    Ok(0) => return Some(Err(cut(&"connection closed before the answer ended"))),
                    Ok(_) => {}
                    Err(e) => return Some(Err(cut(&e))),
                },
            }
        }
    }
}

impl Drop for Body {
    /// A reader that stops at the last event (`[DONE]`, `message_stop`) leaves the body's
    /// last bytes (the final chunk) unread. When they have already arrived, the body is
    /// complete and the connection can carry the next request; otherwise it is closed.
    fn drop(&mut self) {
        if self.ended || !self.reusable {
            return;
        }
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        loop {
            match parse_buffered(&mut self.framing, &mut conn.buf) {
                Parsed::Piece(_) => {}
                Parsed::End => {
                    self.ended = true;
                    self.release();
                    return;
                }
                Parsed::NeedMore | Parsed::Failed(_) => return,
            }
        }
    }
}

/// What the read buffer holds towards the body.
enum Parsed {
    Piece(Bytes),
    End,
    NeedMore,
    Failed(ProviderError),
}

/// Take the next piece of the body from `buf` (or its end), advancing `framing`; no I/O.
fn parse_buffered(framing: &mut Framing, buf: &mut BytesMut) -> Parsed {
    loop {
        match *framing {
            Framing::Length(0) => return Parsed::End,
            Framing::Length(left) | Framing::Chunked(Chunk::Data(left)) => {
                if buf.is_empty() {
                    return Parsed::NeedMore;
                }
                let n = (buf.len() as u64).min(left);
                // A copy, so the read buffer is not pinned by pieces still being parsed.
                let piece = Bytes::copy_from_slice(&buf[..n as usize]);
                buf.advance(n as usize);
                let left = left - n;
                *framing = match *framing {
                    Framing::Length(_) => Framing::Length(left),
                    _ if left == 0 => Framing::Chunked(Chunk::DataEnd),
                    _ => Framing::Chunked(Chunk::Data(left)),
                };
                return Parsed::Piece(piece);
            }
            Framing::UntilClose if buf.is_empty() => return Parsed::NeedMore,
            Framing::UntilClose => {
                let piece = Bytes::copy_from_slice(buf);
                buf.clear();
                return Parsed::Piece(piece);
            }
            Framing::Chunked(state) => {
                let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
                    if buf.len() > MAX_LINE {
                        return Parsed::Failed(ProviderError::permanent(
                            "provider answered with a malformed chunked body",
                        ));
                    }
                    return Parsed::NeedMore;
                };
                let line = buf.split_to(end + 2);
                let line = &line[..end];
                *framing = match state {
                    Chunk::DataEnd if line.is_empty() => Framing::Chunked(Chunk::Size),
                    Chunk::Size => match chunk_size(line) {
                        Some(0) => Framing::Chunked(Chunk::Trailers),
                        Some(n) => Framing::Chunked(Chunk::Data(n)),
                        None => {
                            return Parsed::Failed(ProviderError::permanent(
                                "provider answered with a malformed chunk size",
                            ))
                        }
                    },
                    Chunk::Trailers if line.is_empty() => return Parsed::End,
                    Chunk::Trailers => Framing::Chunked(Chunk::Trailers),
                    Chunk::DataEnd | Chunk::Data(_) => {
                        return Parsed::Failed(ProviderError::permanent(
                            "provider answered with a malformed chunked body",
                        ))
                    }
                };
            }
        }
    }
}

/// The size in a chunk-size line (hex, extensions after `;` ignored).
pub(super) fn chunk_size(line: &[u8]) -> Option<u64> {
    let hex = line.split(|b| *b == b';').next()?;
    let hex = std::str::from_utf8(hex).ok()?.trim();
    if hex.is_empty() || hex.len() > 15 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}
