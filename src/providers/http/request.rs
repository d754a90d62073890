//! A provider request: the URL parsed into its origin, `Host` and path (credentials in it
//! become `Basic` auth), and the request written out in one buffer.

use super::proxy::Proxy;
use super::Origin;
use crate::providers::ProviderError;
use http::header::{HeaderName, HeaderValue};

/// `Basic` credentials from URL userinfo (`%XX` escapes decoded: a password with `@` or
/// `:` must be written so).
pub(super) fn basic(userinfo: &str) -> String {
    use base64::Engine;
    let b = userinfo.as_bytes();
    let mut plain = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        let escaped = b[i] == b'%';
        match (
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (Some(h), Some(l)) if escaped => {
                plain.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                plain.push(b[i]);
                i += 1;
            }
        }
    }
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(plain)
    )
}

/// A parsed request target.
pub(super) struct Target {
    pub(super) origin: Origin,
    /// `host` or `host:port`, for the `Host` header.
    authority: String,
    path: String,
    /// `Basic …` from `user:password@` in the URL, as reqwest sent it.
    authorization: Option<String>,
}

impl Target {
    pub(super) fn parse(url: &str) -> Result<Self, ProviderError> {
        let invalid = |why: &str| {
            ProviderError::permanent(format!(
                "invalid provider URL {}: {why}",
                crate::config::redact_url(url)
            ))
        };
        let uri: http::Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid("the scheme must be http or https")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        let (credentials, host_port) = match authority.as_str().rsplit_once('@') {
            Some((credentials, host_port)) => (Some(credentials), host_port),
            None => (None, authority.as_str()),
        };
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        Ok(Self {
            origin: Origin {
                tls,
                host: host.to_owned(),
                port,
            },
            authority: host_port.to_owned(),
            path: path.to_owned(),
            authorization: credentials.map(basic),
        })
    }
}

/// The request, head and body, in one buffer.
/// Through a proxy (plain `http://` targets only; `https://` ones tunnel), the request line
/// carries the absolute URL and the proxy's credentials go along.
pub(super) fn encode(
    target: &Target,
    headers: &[(&str, &str)],
    body: &serde_json::Value,
    proxy: Option<&Proxy>,
) -> Result<Vec<u8>, ProviderError> {
    let body = serde_json::to_vec(body)
        .map_err(|e| ProviderError::permanent(format!("invalid provider request: {e}")))?;
    for (k, v) in headers {
        // A header name or value can never smuggle a line break into the request.
        if HeaderName::from_bytes(k.as_bytes()).is_err() || HeaderValue::from_str(v).is_err() {
            return Err(ProviderError::permanent(format!(
                "invalid provider request: header {k} is not a valid header"
            )));
        }
    }
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(b"POST ");
    if proxy.is_some() {
        out.extend_from_slice(b"http://");
        out.extend_from_slice(target.authority.as_bytes());
    }
    out.extend_from_slice(target.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut line = |k: &str, v: &str| {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    line("host", &target.authority);
    line(
        "user-agent",
        concat!("promptlab/", env!("CARGO_PKG_VERSION")),
    );
    line("content-type", "application/json");
    line("accept", "text/event-stream, application/json");
    line("content-length", &body.len().to_string());
    if let Some(auth) = proxy.and_then(|p| p.authorization.as_deref()) {
        line("proxy-authorization", auth);
    }
    let has_authorization = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("authorization"));
    if let Some(auth) = target
        .authorization
        .as_deref()
        .filter(|_| !has_authorization)
    {
        line("authorization", auth);
    }
    for (k, v) in headers {
        line(k, v);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    Ok(out)
}
