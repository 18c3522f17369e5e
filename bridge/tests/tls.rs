//! https and wss with --tls-cert/--tls-key.

mod common;

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn serves_https_and_wss() {
    let rcgen::CertifiedKey { cert, key_pair: signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (keys.path().join("cert.pem"), keys.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    let bridge = common::TestBridge::start_with(|c| c.tls = Some((cert_path, key_path))).await;
    let addr = bridge.http();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let connect = || async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap()
    };

    let mut https = connect().await;
    https.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    let _ = https.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200") && response.ends_with("ok"), "{response}");

    let (mut wss, _) =
        tokio_tungstenite::client_async(format!("wss://localhost:{}/ws", addr.port()), connect().await).await.unwrap();
    wss.send(Message::text("VER 1 MSNP2\r\n")).await.unwrap();
    assert_eq!(wss.next().await.unwrap().unwrap(), Message::text("VER 1 MSNP2\r\n"));

    // Plain TCP to the TLS port gets nothing served.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf).await;
    assert!(!String::from_utf8_lossy(&buf).contains("200"));
}
