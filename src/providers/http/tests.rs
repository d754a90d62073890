//! The client against a raw TCP server that answers with scripted bytes, written a few
//! bytes at a time so that every parser state sees its input split.

use super::*;
use crate::providers::Retry;
use futures::StreamExt;
use serde_json::json;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpListener;

mod tls_and_proxies;

struct Answer {
    bytes: Vec<u8>,
    /// Written this many bytes at a time.
    piece: usize,
    /// Close the connection after writing it.
    close: bool,
}

fn answer(bytes: &str, close: bool) -> Answer {
    Answer {
        bytes: bytes.as_bytes().to_vec(),
        piece: 3,
        close,
    }
}

/// An answer written in one go.
fn whole(bytes: &str) -> Answer {
    Answer {
        piece: usize::MAX,
        ..answer(bytes, false)
    }
}

/// Read one request (head and `content-length` body); false at the end of the stream.
async fn read_request(s: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => return false,
        }
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.is_ok()
}

/// A server that answers requests in order with `answers`; returns its URL and a count of
/// the connections it accepted.
async fn server(answers: Vec<Answer>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/chat", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let queue = Arc::new(Mutex::new(VecDeque::from(answers)));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let queue = queue.clone();
            tokio::spawn(async move {
                while read_request(&mut s).await {
                    let Some(a) = queue.lock().unwrap().pop_front() else {
                        return;
                    };
                    for piece in a.bytes.chunks(a.piece) {
                        if s.write_all(piece).await.is_err() {
                            return;
                        }
                        let _ = s.flush().await;
                        tokio::task::yield_now().await;
                    }
                    if a.close {
                        return;
                    }
                }
            });
        }
    });
    (url, accepted)
}

async fn post(http: &Http, url: &str) -> Result<Response, ProviderError> {
    http.post_json(url, &[("x-test", "1")], &json!({"model": "m"}))
        .await
}

async fn body(r: Response) -> Result<String, ProviderError> {
    let mut out = Vec::new();
    let mut s = Box::pin(r.bytes_stream());
    while let Some(piece) = s.next().await {
        out.extend_from_slice(&piece?);
    }
    Ok(String::from_utf8(out).unwrap())
}

fn client() -> Http {
    Http::new(Duration::from_secs(2), Proxies::default())
}

#[tokio::test]
async fn chunked_and_sized_bodies_split_anywhere_reuse_one_connection() {
    let (url, accepted) = server(vec![
        answer(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n",
            false,
        ),
        answer("HTTP/1.1 201 Created\r\ncontent-length: 4\r\nretry-after: 3\r\n\r\nnext", false),
    ])
    .await;
    let http = client();
    let r = post(&http, &url).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(body(r).await.unwrap(), "hello, world");
    assert_eq!(http.idle_connections(), 1, "kept for the next request");
    let r = post(&http, &url).await.unwrap();
    assert_eq!(
        (
            r.status,
            r.headers.get("retry-after").unwrap().to_str().unwrap()
        ),
        (201, "3")
    );
    assert_eq!(r.text().await, "next");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_body_to_the_end_of_the_connection_is_read_and_not_reused() {
    let (url, accepted) = server(vec![
        answer("HTTP/1.1 200 OK\r\n\r\nuntil the end", true),
        answer(
            "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
            true,
        ),
        answer("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", false),
    ])
    .await;
    let http = client();
    assert_eq!(
        body(post(&http, &url).await.unwrap()).await.unwrap(),
        "until the end"
    );
    assert_eq!(body(post(&http, &url).await.unwrap()).await.unwrap(), "ok");
    assert_eq!(
        http.idle_connections(),
        0,
        "`connection: close` is honoured"
    );
    assert_eq!(body(post(&http, &url).await.unwrap()).await.unwrap(), "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_kept_connection_the_server_closed_is_replaced() {
    // The server closes after answering without saying so, as idle timeouts do.
    let (url, accepted) = server(vec![
        answer("HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na", true),
        answer("HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb", false),
    ])
    .await;
    let http = client();
    assert_eq!(body(post(&http, &url).await.unwrap()).await.unwrap(), "a");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(body(post(&http, &url).await.unwrap()).await.unwrap(), "b");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_body_dropped_early_closes_its_connection() {
    let (url, accepted) = server(vec![
        // Ten of the thirty bytes, then nothing: the rest is never there to read.
        answer(
            "HTTP/1.1 200 OK\r\ncontent-length: 30\r\n\r\n0123456789",
            false,
        ),
        answer("HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nc", false),
    ])
    .await;
    let http = client();
    let mut s = Box::pin(post(&http, &url).await.unwrap().bytes_stream());
    assert!(s.next().await.unwrap().is_ok());
    drop(s);
    assert_eq!(http.idle_connections(), 0);
    assert_eq!(body(post(&http, &url).await.unwrap()).await.unwrap(), "c");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_cut_body_is_a_retryable_error() {
    let (url, _) = server(vec![
        answer(
            "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this",
            true,
        ),
        answer(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\nshort",
            true,
        ),
    ])
    .await;
    let http = client();
    for _ in 0..2 {
        let e = body(post(&http, &url).await.unwrap()).await.unwrap_err();
        assert_eq!(e.retry, Retry::Retryable, "{e}");
    }
}

#[tokio::test]
async fn malformed_answers_are_permanent_errors() {
    let (url, _) = server(vec![
        answer("NOT HTTP AT ALL\r\n\r\n", true),
        answer(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            true,
        ),
        answer(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabXY\r\n",
            true,
        ),
        answer("HTTP/1.1 200 OK\r\ncontent-length: lots\r\n\r\n", true),
        answer("HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nok", true),
        answer(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok",
            true,
        ),
    ])
    .await;
    let http = client();
    let e = post(&http, &url).await.err().unwrap();
    assert_eq!(e.retry, Retry::Permanent, "{e}");
    for _ in 0..2 {
        let e = body(post(&http, &url).await.unwrap()).await.unwrap_err();
        assert_eq!(e.retry, Retry::Permanent, "{e}");
    }
    for _ in 0..3 {
        let e = post(&http, &url).await.err().unwrap();
        assert_eq!(e.retry, Retry::Permanent, "{e}");
    }
}

#[tokio::test]
async fn bad_targets_and_headers_are_refused_before_connecting() {
    let (url, accepted) = server(vec![]).await;
    let http = client();
    for bad in ["ftp://example.com/", "not a url"] {
        let e = post(&http, bad).await.err().unwrap();
        assert_eq!(e.retry, Retry::Permanent, "{bad}: {e}");
    }
    let e = http
        .post_json(&url, &[("x-key", "a\r\nx-injected: 1")], &json!({}))
        .await
        .err()
        .unwrap();
    assert_eq!(e.retry, Retry::Permanent);
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn nothing_listening_is_a_retryable_connection_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = post(&client(), &format!("http://127.0.0.1:{port}/"))
        .await
        .err()
        .unwrap();
    assert_eq!(e.retry, Retry::Retryable, "{e}");
}

#[test]
fn chunk_sizes() {
    assert_eq!(body::chunk_size(b"1a"), Some(26));
    assert_eq!(body::chunk_size(b"A;name=value"), Some(10));
    assert_eq!(body::chunk_size(b" 0 "), Some(0));
    for bad in [&b""[..], b"g", b"-1", b"+a", b"1234567890abcdef0"] {
        assert_eq!(body::chunk_size(bad), None, "{bad:?}");
    }
}

#[tokio::test]
async fn a_request_the_server_read_is_never_sent_again() {
    // The server reads the request and closes without answering (as a server that fails
    // before its first byte does): an error, and the server sees the request once.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                while read_request(&mut s).await {
                    if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na")
                            .await;
                    } else {
                        return;
                    }
                }
            });
        }
    });
    let http = client();
    assert_eq!(body(post(&http, &url).await.unwrap()).await.unwrap(), "a");
    let e = post(&http, &url).await.err().unwrap();
    assert_eq!(e.retry, Retry::Retryable, "{e}");
    assert_eq!(requests.load(Ordering::SeqCst), 2, "sent once, not retried");
}

#[tokio::test]
async fn a_reader_that_stops_at_the_last_event_leaves_the_connection_reusable() {
    let (url, accepted) = server(vec![
        whole("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        answer("HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nd", false),
    ])
    .await;
    let http = client();
    let response = post(&http, &url).await.unwrap();
    // Let the whole answer arrive before the body is read.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut s = Box::pin(response.bytes_stream());
    assert_eq!(s.next().await.unwrap().unwrap(), "hello");
    drop(s);
    assert_eq!(
        http.idle_connections(),
        1,
        "the final chunk was already read"
    );
    assert_eq!(body(post(&http, &url).await.unwrap()).await.unwrap(), "d");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
