//! The server's life cycle on a real socket: it serves on a listener bound to port 0, and when the
//! shutdown future resolves it ends open live streams, drains, stops the writer and returns.

use std::time::Duration;

use clinic_node::{Config, Node};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn shutdown_ends_live_streams_and_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    config.admin_password = Some("rahasia-admin".into());
    let node = Node::open(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(node.serve(listener, async {
        let _ = stopped.await;
    }));

    // A display board subscribes to the live stream and stays connected.
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(b"GET /api/v1/live HTTP/1.1\r\nHost: node\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains("event: hello") {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf))
            .await
            .expect("hello in time")
            .unwrap();
        assert!(n > 0, "stream closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));

    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops in time")
        .unwrap();
    result.unwrap();
    // The stream was ended by the server, not left hanging.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut rest))
        .await
        .expect("stream ends")
        .unwrap();
    // The data directory is consistent and can be opened again.
    let mut config = Config::for_data_dir(dir.path());
    config.admin_password = Some("rahasia-admin".into());
    Node::open(config).await.unwrap().close().await;
}
