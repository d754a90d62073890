//! `promptlab-fake-provider [ADDR]`: serve the scriptable fake provider (default
//! 127.0.0.1:9100) for benchmarks and manual testing.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("fake provider on http://{}", listener.local_addr()?);
    promptlab_fake_provider::serve(listener).await
}
