//! Forward proxies, from `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (either case, the
//! upper one first), as curl reads them: `https://` providers are reached through a
//! `CONNECT` tunnel (TLS stays end to end), `http://` ones by asking the proxy with the
//! absolute URL. Proxies themselves are spoken to in plain HTTP (`http://` proxy URLs,
//! with optional `user:password@`, sent as `Proxy-Authorization: Basic`).

use super::Origin;
use crate::config::redact_url;
use crate::providers::ProviderError;
use std::net::IpAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest answer head to a `CONNECT`.
const MAX_CONNECT_HEAD: usize = 8 * 1024;

/// One proxy server.
#[derive(Clone, PartialEq)]
pub(super) struct Proxy {
    pub host: String,
    pub port: u16,
    /// `Basic …`, when the proxy URL has credentials.
    pub authorization: Option<String>,
}

/// Which proxy, if any, each provider request goes through.
#[derive(Clone, Default)]
pub struct Proxies {
    https: Option<Proxy>,
    http: Option<Proxy>,
    /// Hosts (and their subdomains) and address ranges reached directly.
    no_proxy: Vec<Bypass>,
}

impl std::fmt::Debug for Proxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials never reach a log.
        let show = |p: &Option<Proxy>| p.as_ref().map(|p| format!("{}:{}", p.host, p.port));
        f.debug_struct("Proxies")
            .field("https", &show(&self.https))
            .field("http", &show(&self.http))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl Proxies {
    /// Read the variables through `get` (trimmed, empty as absent); an unusable proxy URL
    /// is an error that names its variable.
    pub fn from_vars<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<Self, String> {
        let either = |upper: &'static str, lower: &'static str| {
            get(upper)
                .map(|v| (upper, v))
                .or_else(|| get(lower).map(|v| (lower, v)))
        };
        let proxy = |var: Option<(&str, &str)>| var.map(|(name, url)| parse(name, url)).transpose();
        Ok(Self {
            https: proxy(either("HTTPS_PROXY", "https_proxy"))?,
            http: proxy(either("HTTP_PROXY", "http_proxy"))?,
            no_proxy: either("NO_PROXY", "no_proxy")
                .map(|(_, v)| v.split(',').filter_map(Bypass::parse).collect())
                .unwrap_or_default(),
        })
    }

    /// The proxy for requests to `origin`, or `None` to connect directly.
    pub(super) fn for_origin(&self, origin: &Origin) -> Option<&Proxy> {
        let proxy = if origin.tls { &self.https } else { &self.http };
        let proxy = proxy.as_ref()?;
        let host = origin.host.to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        let bypass = self.no_proxy.iter().any(|b| b.matches(&host, ip));
        (!bypass).then_some(proxy)
    }
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq)]
enum Bypass {
    All,
    /// A host name and its subdomains (lower case).
    Domain(String),
    /// An address or a range (`10.0.0.0/8`, `::1`).
    Net(IpAddr, u8),
}

impl Bypass {
    /// `*`, `10.0.0.0/8`, `[::1]`, `127.0.0.1:8080`, `*.example.com`, `.example.com`,
    /// `example.com:443`; ports are ignored.
    fn parse(raw: &str) -> Option<Self> {
        let e = raw.trim().to_ascii_lowercase();
        if e == "*" {
            return Some(Self::All);
        }
        if let Some((ip, bits)) = e.split_once('/') {
            let ip: IpAddr = ip.trim_matches(|c| c == '[' || c == ']').parse().ok()?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits: u8 = bits.parse().ok().filter(|b| *b <= max)?;
            return Some(Self::Net(ip, bits));
        }
        let host = match e.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None if e.matches(':').count() == 1 => e.split(':').next().unwrap_or_default(),
            None => e.as_str(),
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(Self::Net(ip, if ip.is_ipv4() { 32 } else { 128 }));
        }
        let domain = host.trim_start_matches("*.").trim_start_matches('.');
        (!domain.is_empty()).then(|| Self::Domain(domain.to_owned()))
    }

    fn matches(&self, host: &str, ip: Option<IpAddr>) -> bool {
        match (self, ip) {
            (Self::All, _) => true,
            (Self::Net(net, bits), Some(ip)) => in_net(ip, *net, *bits),
            (Self::Domain(d), None) => {
                host == d
                    || (host.ends_with(d.as_str()) && host[..host.len() - d.len()].ends_with('.'))
            }
            _ => false,
        }
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

fn parse(var: &str, url: &str) -> Result<Proxy, String> {
    let with_scheme = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    let uri: http::Uri = with_scheme
        .parse()
        .map_err(|_| format!("{var} is not a proxy URL: {}", redact_url(&with_scheme)))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "{var}: only http:// proxies are supported, not {}://",
            uri.scheme_str().unwrap_or("")
        ));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("{var} has no host: {}", redact_url(&with_scheme)))?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{var} has no host: {}", redact_url(&with_scheme)));
    }
    let authorization = authority
        .as_str()
        .rsplit_once('@')
        .map(|(credentials, _)| super::basic(credentials));
    Ok(Proxy {
        host: host.to_owned(),
        port: authority.port_u16().unwrap_or(80),
        authorization,
    })
}

/// Ask `proxy` (on `tcp`) for a tunnel to `origin`; the stream is the tunnel after this.
pub(super) async fn tunnel(
    tcp: &mut TcpStream,
    proxy: &Proxy,
    origin: &Origin,
) -> Result<(), ProviderError> {
    let failed = |why: String| {
        ProviderError::retryable(format!(
            "provider connection failed: proxy {}:{}: {why}",
            proxy.host, proxy.port
        ))
    };
    let target = if origin.host.contains(':') {
        format!("[{}]:{}", origin.host, origin.port)
    } else {
        format!("{}:{}", origin.host, origin.port)
    };
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nhost: {target}\r\n");
    if let Some(auth) = &proxy.authorization {
        request.push_str(&format!("proxy-authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| failed(e.to_string()))?;
    // Nothing follows the proxy's answer until the client speaks, so reading past the
    // head cannot swallow tunnelled bytes.
    let mut head = Vec::with_capacity(256);
    let mut piece = [0u8; 256];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_CONNECT_HEAD {
            return Err(failed("answer head too long".into()));
        }
        match tcp.read(&mut piece).await {
            Ok(0) => return Err(failed("closed before answering CONNECT".into())),
            Ok(n) => head.extend_from_slice(&piece[..n]),
            Err(e) => return Err(failed(e.to_string())),
        }
    }
    let mut slots = [httparse::EMPTY_HEADER; 32];
    let mut answer = httparse::Response::new(&mut slots);
    match (answer.parse(&head), answer.code) {
        (Ok(httparse::Status::Complete(_)), Some(200..=299)) => Ok(()),
        (Ok(httparse::Status::Complete(_)), Some(407)) => Err(ProviderError::permanent(format!(
            "proxy {}:{} asks for credentials (407)",
            proxy.host, proxy.port
        ))),
        (Ok(_), Some(code)) => Err(failed(format!("refused the tunnel with {code}"))),
        _ => Err(failed("malformed answer to CONNECT".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<&'static str> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
    }

    fn origin(tls: bool, host: &str) -> Origin {
        Origin {
            tls,
            host: host.into(),
            port: if tls { 443 } else { 80 },
        }
    }

    #[test]
    fn schemes_no_proxy_and_credentials() {
        let p = Proxies::from_vars(&vars(&[
            ("HTTPS_PROXY", "http://us%40r:p%3Ass@proxy.internal:3128"),
            ("http_proxy", "plain.internal:8080"),
            (
                "NO_PROXY",
                "localhost, .corp.example,*.lan:443,[::1],10.0.0.0/8,192.168.1.7:80",
            ),
        ]))
        .unwrap();
        let https = p.for_origin(&origin(true, "api.openai.com")).unwrap();
        assert_eq!((https.host.as_str(), https.port), ("proxy.internal", 3128));
        let expected = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode("us@r:p:ss")
        };
        assert_eq!(
            https.authorization.as_deref(),
            Some(&*format!("Basic {expected}"))
        );
        let http = p.for_origin(&origin(false, "ollama.example")).unwrap();
        assert_eq!(
            (http.host.as_str(), http.port, http.authorization.is_none()),
            ("plain.internal", 8080, true)
        );
        for direct in [
            "localhost",
            "LLM.corp.example",
            "corp.example",
            "box.lan",
            "::1",
        ] {
            assert!(p.for_origin(&origin(true, direct)).is_none(), "{direct}");
        }
        for proxied in [
            "notcorp.example",
            "lan.com",
            "localhost.evil",
            "11.0.0.1",
            "192.168.1.8",
            "::2",
        ] {
            assert!(p.for_origin(&origin(true, proxied)).is_some(), "{proxied}");
        }
        assert!(
            !format!("{p:?}").contains("us"),
            "credentials stay out of Debug"
        );
    }

    #[test]
    fn no_variables_no_proxy_and_star_bypasses_all() {
        let none = Proxies::from_vars(&vars(&[])).unwrap();
        assert!(none
            .for_origin(&origin(true, "api.anthropic.com"))
            .is_none());
        let star =
            Proxies::from_vars(&vars(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "*")])).unwrap();
        assert!(star
            .for_origin(&origin(true, "api.anthropic.com"))
            .is_none());
    }

    #[test]
    fn unusable_proxy_urls_name_their_variable() {
        for (var, url) in [
            ("HTTPS_PROXY", "socks5://127.0.0.1:1080"),
            ("HTTP_PROXY", "https://proxy:443"),
            ("HTTPS_PROXY", "http://"),
        ] {
            let pairs: &'static [(&'static str, &'static str)] = Box::leak(Box::new([(var, url)]));
            let e = Proxies::from_vars(&vars(pairs)).unwrap_err();
            assert!(e.contains(var), "{e}");
        }
    }
}
