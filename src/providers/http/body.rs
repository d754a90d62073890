//! A response body: framed by `Content-Length`, chunked transfer coding or the end of the
//! connection, read piece by piece; the connection goes back to the pool once the body
//! has been read to its end.

use super::{Conn, Inner, Origin};
use crate::providers::ProviderError;
use bytes::{Buf, Bytes};
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
    match headers.get(http::header::CONTENT_LENGTH) {
        None => Ok(Framing::UntilClose),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Framing::Length)
            .ok_or_else(|| {
                ProviderError::permanent("provider answered with an invalid Content-Length")
            }),
    }
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
            match self.framing {
                Framing::Length(0) => return None,
                Framing::Length(left) | Framing::Chunked(Chunk::Data(left)) => {
                    if conn.buf.is_empty() {
                        match conn.fill().await {
                            Ok(0) => {
                                return Some(Err(cut(&"connection closed before the answer ended")))
                            }
                            Ok(_) => {}
                            Err(e) => return Some(Err(cut(&e))),
                        }
                    }
                    let n = (conn.buf.len() as u64).min(left);
                    // A copy, so the read buffer is not pinned by pieces still being parsed.
                    let piece = Bytes::copy_from_slice(&conn.buf[..n as usize]);
                    conn.buf.advance(n as usize);
                    let left = left - n;
                    self.framing = match self.framing {
                        Framing::Length(_) => Framing::Length(left),
                        _ if left == 0 => Framing::Chunked(Chunk::DataEnd),
                        _ => Framing::Chunked(Chunk::Data(left)),
                    };
                    return Some(Ok(piece));
                }
                Framing::UntilClose => {
                    if conn.buf.is_empty() {
                        match conn.fill().await {
                            Ok(0) => return None,
                            Ok(_) => {}
                            Err(e) => return Some(Err(cut(&e))),
                        }
                    }
                    let piece = Bytes::copy_from_slice(&conn.buf);
                    conn.buf.clear();
                    return Some(Ok(piece));
                }
                Framing::Chunked(state) => {
                    let Some(end) = conn.buf.windows(2).position(|w| w == b"\r\n") else {
                        if conn.buf.len() > MAX_LINE {
                            return Some(Err(ProviderError::permanent(
                                "provider answered with a malformed chunked body",
                            )));
                        }
                        match conn.fill().await {
                            Ok(0) => {
                                return Some(Err(cut(&"connection closed before the answer ended")))
                            }
                            Ok(_) => continue,
                            Err(e) => return Some(Err(cut(&e))),
                        }
                    };
                    let line = conn.buf.split_to(end + 2);
                    let line = &line[..end];
                    self.framing = match state {
                        Chunk::DataEnd if line.is_empty() => Framing::Chunked(Chunk::Size),
                        Chunk::Size => match chunk_size(line) {
                            Some(0) => Framing::Chunked(Chunk::Trailers),
                            Some(n) => Framing::Chunked(Chunk::Data(n)),
                            None => {
                                return Some(Err(ProviderError::permanent(
                                    "provider answered with a malformed chunk size",
                                )))
                            }
                        },
                        Chunk::Trailers if line.is_empty() => return None,
                        Chunk::Trailers => Framing::Chunked(Chunk::Trailers),
                        Chunk::DataEnd | Chunk::Data(_) => {
                            return Some(Err(ProviderError::permanent(
                                "provider answered with a malformed chunked body",
                            )))
                        }
                    };
                }
            }
        }
    }
}

/// The size in a chunk-size line (hex, extensions after `;` ignored).
pub(super) fn chunk_size(line: &[u8]) -> Option<u64> {
    let hex = line.split(|b| *b == b';').next()?;
    let hex = std::str::from_utf8(hex).ok()?.trim();
    if hex.is_empty() || hex.len() > 15 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}
