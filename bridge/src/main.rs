//! The bridge: serves the built browser app. (The WebSocket relay to MSNP2 servers is built on this.)

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::routing::get;
use clap::Parser;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to serve HTTP on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The built frontend (Trunk's dist/).
    #[arg(long = "static", default_value = "dist")]
    static_dir: PathBuf,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .fallback_service(ServeDir::new(&args.static_dir))
        .layer(CompressionLayer::new());
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    // Tools and tests wait for this one line rather than guessing the port.
    println!("ready http={addr}");
    tracing::info!(%addr, dir = %args.static_dir.display(), "serving");
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
