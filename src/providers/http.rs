//! A small HTTP/1.1 client for provider calls: one JSON `POST`, then the response body read
//! as it arrives (server-sent events), over TCP or TLS (rustls with the webpki roots),
//! with kept-alive connections reused per origin.
//!
//! It exists for memory: a run in flight holds one provider connection for as long as the
//! model streams. Through reqwest/hyper each such connection held ~27 kB (heaptrack, 1,000
//! runs in flight: a 32-slot request channel of ~9 kB, an 8 kB header write buffer kept for
//! the connection's life, an 8 kB read buffer), neither of which reqwest lets us size.
//! Here a connection is its socket and a 2 kB read buffer; the request is written from a
//! buffer that is dropped once sent.

use super::ProviderError;
use bytes::{Buf, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod body;
mod conn_io;
mod proxy;
mod request;
#[cfg(test)]
mod tests;

pub use body::Response;
use body::{framing, Body, Framing};
use conn_io::Io;
pub use proxy::Proxies;
use request::{basic, encode, Target};

/// Initial read buffer of a connection; it grows only for a larger head or frame.
const READ_CHUNK: usize = 2048;
/// Longest response head (status line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Idle connections older than this are not reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per origin; more are closed.
const MAX_IDLE_PER_ORIGIN: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Origin {
    tls: bool,
    host: String,
    port: u16,
}

struct Inner {
    connect_timeout: Duration,
    proxies: Proxies,
    idle: Mutex<HashMap<Origin, Vec<(Io, Instant)>>>,
    tls: OnceLock<Option<tokio_rustls::TlsConnector>>,
}

impl Inner {
    fn idle(&self) -> std::sync::MutexGuard<'_, HashMap<Origin, Vec<(Io, Instant)>>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest idle connection to `origin` that is still open.
    fn take_idle(&self, origin: &Origin) -> Option<Io> {
        let mut idle = self.idle();
        let list = idle.get_mut(origin)?;
        while let Some((io, since)) = list.pop() {
            if since.elapsed() < IDLE_TIMEOUT && io.idle_and_open() {
                return Some(io);
            }
        }
        None
    }

    fn put_idle(&self, origin: Origin, io: Io) {
        let mut idle = self.idle();
        for list in idle.values_mut() {
            list.retain(|(_, since)| since.elapsed() < IDLE_TIMEOUT);
        }
        idle.retain(|_, list| !list.is_empty());
        let list = idle.entry(origin).or_default();
        if list.len() < MAX_IDLE_PER_ORIGIN {
            list.push((io, Instant::now()));
        }
    }

    /// The TLS connector, built on first use (an idle server holds no root store).
    fn tls(&self) -> Option<&tokio_rustls::TlsConnector> {
        self.tls
            .get_or_init(|| {
                tls_connector(rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                })
            })
            .as_ref()
    }

    async fn connect(&self, origin: &Origin) -> Result<Io, ProviderError> {
        let failed = |e: &dyn std::fmt::Display| {
            ProviderError::retryable(format!(
                "provider connection failed: {}:{}: {e}",
                origin.host, origin.port
            ))
        };
        let connect = async {
            let proxy = self.proxies.for_origin(origin);
            let (host, port) = match proxy {
                Some(p) => (p.host.as_str(), p.port),
                None => (origin.host.as_str(), origin.port),
            };
            let mut tcp = TcpStream::connect((host, port))
                .await
                .map_err(|e| failed(&e))?;
            let _ = tcp.set_nodelay(true);
            if !origin.tls {
                return Ok(Io::Plain(tcp));
            }
            if let Some(p) = proxy {
                proxy::tunnel(&mut tcp, p, origin).await?;
            }
            let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
                .map_err(|e| ProviderError::permanent(format!("invalid provider host: {e}")))?;
            let connector = self
                .tls()
                .ok_or_else(|| ProviderError::permanent("TLS is not available"))?;
            let tls = connector.connect(name, tcp).await.map_err(|e| {
                // A certificate that does not verify will not verify on a retry either.
                let bad_certificate = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
                if bad_certificate {
                    ProviderError::permanent(format!(
                        "provider TLS certificate refused: {}:{}: {e}",
                        origin.host, origin.port
                    ))
                } else {
                    failed(&e)
                }
            })?;
            Ok(Io::Tls(Box::new(tls)))
        };
        tokio::time::timeout(self.connect_timeout, connect)
            .await
            .unwrap_or_else(|_| Err(failed(&"timed out")))
    }
}

fn tls_connector(roots: rustls::RootCertStore) -> Option<tokio_rustls::TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The client: cheap to clone, connections shared.
#[derive(Clone)]
pub struct Http {
    inner: Arc<Inner>,
}

impl Http {
    pub fn new(connect_timeout: Duration, proxies: Proxies) -> Self {
        Self {
            inner: Arc::new(Inner {
                connect_timeout,
                proxies,
                idle: Mutex::new(HashMap::new()),
                tls: OnceLock::new(),
            }),
        }
    }

    /// A client that trusts only `roots` (tests with their own certificate authority).
    #[cfg(test)]
    fn with_roots(
        connect_timeout: Duration,
        proxies: Proxies,
        roots: rustls::RootCertStore,
    ) -> Self {
        let http = Self::new(connect_timeout, proxies);
        let _ = http.inner.tls.set(tls_connector(roots));
        http
    }

    /// Idle connections kept, over all origins.
    #[cfg(test)]
    fn idle_connections(&self) -> usize {
        self.inner.idle().values().map(Vec::len).sum()
    }

    /// `POST` a JSON body; resolves when the response head has arrived. A kept-alive
    /// connection is checked before reuse (a peer that closed it has sent its FIN), and one
    /// that still fails while the request is written is replaced by a new connection once.
    /// Nothing is sent twice once written: the server may have acted on it.
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> Result<Response, ProviderError> {
        let target = Target::parse(url)?;
        let proxy = match target.origin.tls {
            true => None,
            false => self.inner.proxies.for_origin(&target.origin),
        };
        let request = encode(&target, headers, body, proxy)?;
        if let Some(io) = self.inner.take_idle(&target.origin) {
            match exchange(io, &request).await {
                Ok(head) => return Ok(self.response(target.origin, head)),
                Err(Failure::Unanswered(_)) => {}
                Err(Failure::Broken(e)) => return Err(e),
            }
        }
        let io = self.inner.connect(&target.origin).await?;
        match exchange(io, &request).await {
            Ok(head) => Ok(self.response(target.origin, head)),
            Err(Failure::Unanswered(e) | Failure::Broken(e)) => Err(e),
        }
    }

    fn response(&self, origin: Origin, head: Head) -> Response {
        Response {
            status: head.status,
            headers: head.headers,
            body: Body {
                conn: Some(head.conn),
                framing: head.framing,
                reusable: head.keep_alive,
                origin,
                pool: self.inner.clone(),
                ended: false,
            },
        }
    }
}

enum Failure {
    /// The request could not be written: on a reused connection, try a new one.
    Unanswered(ProviderError),
    Broken(ProviderError),
}

struct Conn {
    io: Io,
    buf: BytesMut,
}

impl Conn {
    /// Read more into the buffer; `Ok(0)` at the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 2 {
            self.buf.reserve(READ_CHUNK);
        }
        self.io.read_buf(&mut self.buf).await
    }
}

struct Head {
    status: u16,
    headers: HeaderMap,
    framing: Framing,
    keep_alive: bool,
    conn: Conn,
}

fn transport(e: &dyn std::fmt::Display) -> ProviderError {
    ProviderError::retryable(format!("provider connection failed: {e}"))
}

/// Send the request and read the response head.
async fn exchange(io: Io, request: &[u8]) -> Result<Head, Failure> {
    let mut conn = Conn {
        io,
        buf: BytesMut::with_capacity(READ_CHUNK),
    };
    if let Err(e) = conn.io.write_all(request).await {
        return Err(Failure::Unanswered(transport(&e)));
    }
    if let Err(e) = conn.io.flush().await {
        return Err(Failure::Unanswered(transport(&e)));
    }
    loop {
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut slots);
        match parsed.parse(&conn.buf) {
            Ok(httparse::Status::Complete(len)) => {
                let status = parsed.code.unwrap_or(0);
                let version = parsed.version.unwrap_or(0);
                let mut headers = HeaderMap::new();
                for h in parsed.headers.iter() {
                    if let (Ok(k), Ok(v)) = (
                        HeaderName::from_bytes(h.name.as_bytes()),
                        HeaderValue::from_bytes(h.value),
                    ) {
                        headers.append(k, v);
                    }
                }
                conn.buf.advance(len);
                if (100..200).contains(&status) {
                    // An interim answer (100 Continue, 103 Early Hints): the real one follows.
                    continue;
                }
                let framing = framing(status, &headers).map_err(Failure::Broken)?;
                let close = headers.get_all(http::header::CONNECTION).iter().any(|v| {
                    v.to_str()
                        .is_ok_and(|v| v.to_ascii_lowercase().contains("close"))
                });
                let keep_alive = version == 1 && !close && !matches!(framing, Framing::UntilClose);
                return Ok(Head {
                    status,
                    headers,
                    framing,
                    keep_alive,
                    conn,
                });
            }
            Ok(httparse::Status::Partial) if conn.buf.len() > MAX_HEAD => {
                return Err(Failure::Broken(ProviderError::permanent(
                    "provider answered with a response head over 64 kB",
                )))
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => {
                return Err(Failure::Broken(ProviderError::permanent(format!(
                    "provider answered with a malformed response: {e}"
                ))))
            }
        }
        // Once the request is written the server may have acted on it, even if the
        // connection then closes without a byte: it is not sent again here (the run
        // engine's retry counts it as an attempt).
        match conn.fill().await {
            Ok(0) => {
                return Err(Failure::Broken(transport(
                    &"connection closed before the answer",
                )))
            }
            Ok(_) => {}
            Err(e) => return Err(Failure::Broken(transport(&e))),
        }
    }
}
