//! The floor of the benchmark: the least an axum server can do for `/api/public`, built from
//! the same axum, tokio and hyper as the API: one route answering the same JSON, no layers,
//! `axum::serve` on a default runtime. `cargo xtask bench` measures the API against it in the
//! same run, so what the API's plumbing costs is measured, not guessed.
//!
//! `cargo run --release -p api --example floor -- 127.0.0.1:0` prints the address it serves on.

use axum::routing::get;
use axum::{Json, Router};
use shared::Message;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("floor listening on http://{}", listener.local_addr()?);
    let app = Router::new().route(
        "/api/public",
        get(|| async { Json(Message::new(Message::PUBLIC)) }),
    );
    axum::serve(listener, app).await
}
