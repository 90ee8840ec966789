//! HTTPS: aws-sdk-kinesis over TLS negotiates HTTP/2 by ALPN and runs the everyday flow and
//! SubscribeToShard; the self-signed certificate is kept across restarts.

use std::time::Duration;

use crate::common::{create_stream, tls_client, Server};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{ShardIteratorType, StartingPosition, SubscribeToShardEventStream};

#[tokio::test]
async fn everyday_flow_and_subscribe_over_tls_with_http2() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::disk(dir.path(), &["--tls-port", "0"]);
    let cert = std::fs::read(dir.path().join("tls/cert.pem")).expect("self-signed cert kept");
    let endpoint = server.tls_endpoint.clone().expect("https endpoint printed");
    let endpoint = endpoint.replace("127.0.0.1", "localhost");
    assert_eq!(
        negotiated_alpn(&endpoint, &cert),
        b"h2",
        "HTTP/2 is chosen when offered"
    );

    let c = tls_client(&endpoint, &cert);
    create_stream(&c, "secure", 2).await;
    let consumer = c
        .register_stream_consumer()
        .stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/secure")
        .consumer_name("tls-app")
        .send()
        .await
        .unwrap()
        .consumer()
        .unwrap()
        .consumer_arn()
        .to_owned();
    let out = c
        .subscribe_to_shard()
        .consumer_arn(&consumer)
        .shard_id("shardId-000000000000")
        .starting_position(
            StartingPosition::builder()
                .r#type(ShardIteratorType::TrimHorizon)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut rx = out.event_stream;
    let put = c
        .put_record()
        .stream_name("secure")
        .partition_key("k")
        .explicit_hash_key("0")
        .data(Blob::new("over tls"))
        .send()
        .await
        .unwrap();
    let mut got = None;
    for _ in 0..50 {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("event in time")
            .unwrap()
            .expect("stream open");
        if let SubscribeToShardEventStream::SubscribeToShardEvent(e) = ev {
            if let Some(r) = e.records().first() {
                got = Some((r.sequence_number().to_owned(), r.data().as_ref().to_vec()));
                break;
            }
        }
    }
    assert_eq!(
        got,
        Some((put.sequence_number().to_owned(), b"over tls".to_vec()))
    );

    let it = c
        .get_shard_iterator()
        .stream_name("secure")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let records = c
        .get_records()
        .shard_iterator(it.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(records.records().len(), 1);

    // The same certificate after a restart.
    server.restart();
    assert_eq!(
        std::fs::read(dir.path().join("tls/cert.pem")).unwrap(),
        cert
    );
    let endpoint = server
        .tls_endpoint
        .clone()
        .unwrap()
        .replace("127.0.0.1", "localhost");
    let c = tls_client(&endpoint, &cert);
    assert_eq!(
        c.list_streams().send().await.unwrap().stream_names(),
        ["secure"]
    );
}

/// The ALPN protocol the server picks when a client offers h2 and http/1.1.
fn negotiated_alpn(endpoint: &str, cert_pem: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(cert_pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let addr = endpoint.trim_start_matches("https://");
    let host = addr.split(':').next().unwrap().to_string();
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from(host).unwrap())
            .unwrap();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.flush().unwrap();
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(tls.sock).unwrap();
    }
    conn.alpn_protocol().unwrap_or_default().to_vec()
}
