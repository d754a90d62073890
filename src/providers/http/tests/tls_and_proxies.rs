//! TLS against a local certificate authority, a forward proxy (tunnels, absolute URLs,
//! credentials), and credentials in a provider URL.

use super::*;

/// A TLS server for `localhost` with a fresh self-signed certificate; its port and a root
/// store that trusts it.
async fn tls_server() -> (u16, rustls::RootCertStore) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nsecret\r\n0\r\n\r\n")
                    .await;
                let _ = tls.flush().await;
                let _ = tls.read(&mut buf).await;
            });
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    (port, roots)
}

#[tokio::test]
async fn https_verifies_the_server_and_streams_over_tls() {
    let (port, roots) = tls_server().await;
    let url = format!("https://localhost:{port}/v1/messages");
    let trusting = Http::with_roots(Duration::from_secs(2), Proxies::default(), roots);
    assert_eq!(
        body(post(&trusting, &url).await.unwrap()).await.unwrap(),
        "secret"
    );

    // The public roots do not know this certificate: refused, and nothing is sent.
    let e = post(&client(), &url).await.err().unwrap();
    assert!(e.message.contains("certificate"), "{e}");
    assert_eq!(
        e.retry,
        Retry::Permanent,
        "a retry cannot fix a certificate"
    );
}

/// A forward proxy: `CONNECT` tunnels (checking the credentials when `auth` is set), and
/// for plain requests an answer that is the request head it got. Returns its port and the
/// request heads it saw.
async fn forward_proxy(auth: Option<&'static str>) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if s.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                log.lock().unwrap().push(head.clone());
                let authorized =
                    auth.is_none_or(|a| head.contains(&format!("proxy-authorization: {a}")));
                if !authorized {
                    let _ = s.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n").await;
                    return;
                }
                let first = head.lines().next().unwrap_or_default().to_owned();
                if let Some(target) = first
                    .strip_prefix("CONNECT ")
                    .and_then(|r| r.split(' ').next())
                {
                    let Ok(mut upstream) =
                        TcpStream::connect(target.replace("localhost", "127.0.0.1")).await
                    else {
                        let _ = s.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                        return;
                    };
                    let _ = s
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await;
                    let _ = tokio::io::copy_bidirectional(&mut s, &mut upstream).await;
                } else {
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
                        head.len()
                    );
                    let _ = s.write_all(answer.as_bytes()).await;
                }
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn proxies_tunnel_https_and_forward_http_with_credentials() {
    let (tls_port, roots) = tls_server().await;
    let (proxy_port, seen) = forward_proxy(Some("Basic dTpw")).await; // u:p
    let get = |k: &str| match k {
        "HTTPS_PROXY" | "HTTP_PROXY" => {
            Some(Box::leak(format!("http://u:p@127.0.0.1:{proxy_port}").into_boxed_str()) as &str)
        }
        "NO_PROXY" => Some("direct.invalid"),
        _ => None,
    };
    let proxies = Proxies::from_vars(&get).unwrap();
    let http = Http::with_roots(Duration::from_secs(2), proxies, roots);

    // TLS end to end through the tunnel: the certificate is still checked for localhost.
    let url = format!("https://localhost:{tls_port}/v1/messages");
    assert_eq!(
        body(post(&http, &url).await.unwrap()).await.unwrap(),
        "secret"
    );
    // Plain HTTP: the proxy gets the absolute URL.
    let r = post(&http, "http://provider.example:8000/v1/chat")
        .await
        .unwrap();
    let head = r.text().await;
    assert!(
        head.starts_with("POST http://provider.example:8000/v1/chat HTTP/1.1\r\n"),
        "{head}"
    );
    let heads = seen.lock().unwrap().clone();
    assert!(
        heads[0].starts_with(&format!("CONNECT localhost:{tls_port} HTTP/1.1")),
        "{heads:?}"
    );
    assert!(heads
        .iter()
        .all(|h| h.contains("proxy-authorization: Basic dTpw")));

    // Wrong credentials: a permanent error (retrying will not help).
    let get = |k: &str| match k {
        "HTTPS_PROXY" => Some(Box::leak(
            format!("http://u:wrong@127.0.0.1:{proxy_port}").into_boxed_str(),
        ) as &str),
        _ => None,
    };
    let refused = Http::new(Duration::from_secs(2), Proxies::from_vars(&get).unwrap());
    let e = post(&refused, &url).await.err().unwrap();
    assert_eq!(e.retry, Retry::Permanent, "{e}");
    assert!(e.message.contains("407"), "{e}");
}

#[tokio::test]
async fn credentials_in_a_provider_url_become_basic_auth_and_stay_out_of_errors() {
    // The forward proxy's plain path answers with the request head it got.
    let (port, _) = forward_proxy(None).await;
    let http = client();
    let url = format!("http://gw%40user:p%3Ass@127.0.0.1:{port}/v1/chat");
    let head = post(&http, &url).await.unwrap().text().await;
    let expected = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode("gw@user:p:ss")
    };
    assert!(
        head.contains(&format!("authorization: Basic {expected}\r\n")),
        "{head}"
    );
    assert!(
        head.contains(&format!("host: 127.0.0.1:{port}\r\n")),
        "{head}"
    );
    // An explicit Authorization (an API key) wins over the URL's.
    let head = http
        .post_json(&url, &[("authorization", "Bearer sk-x")], &json!({}))
        .await
        .unwrap()
        .text()
        .await;
    assert!(
        head.contains("authorization: Bearer sk-x") && !head.contains("Basic"),
        "{head}"
    );

    let e = post(&http, "ftp://user:hunter2@example.com/")
        .await
        .err()
        .unwrap();
    assert!(!e.message.contains("hunter2"), "{e}");
}
