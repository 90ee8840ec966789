//! `shardline faults …` changes a running server's fault-injection rules.

use std::process::Command;

use crate::common::{create_stream, error_code, Server};
use aws_sdk_kinesis::primitives::Blob;

fn faults(server: &Server, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shardline"))
        .arg("faults")
        .arg("--endpoint")
        .arg(&server.endpoint)
        .args(args)
        .output()
        .expect("run shardline faults");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn add_list_remove_and_clear_rules() {
    let server = Server::memory(&[]);
    let c = server.client_no_retry();
    create_stream(&c, "f", 1).await;

    let (ok, text) = faults(
        &server,
        &[
            "add",
            "--operation",
            "PutRecord",
            "--stream",
            "f",
            "--error",
            "ProvisionedThroughputExceededException",
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("\"id\":1"), "{text}");
    let err = c
        .put_record()
        .stream_name("f")
        .partition_key("k")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ProvisionedThroughputExceededException");

    let (ok, text) = faults(&server, &["list"]);
    assert!(
        ok && text.contains("PutRecord") && text.contains("\"fired\": 1"),
        "{text}"
    );

    assert!(faults(&server, &["remove", "1"]).0);
    c.put_record()
        .stream_name("f")
        .partition_key("k")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap();
    assert!(
        !faults(&server, &["remove", "1"]).0,
        "removing a missing rule fails"
    );

    assert!(faults(&server, &["add", "--latency-ms", "1"]).0);
    assert!(faults(&server, &["clear"]).0);
    assert_eq!(faults(&server, &["list"]).1.trim(), "[]");

    // Bad rules are refused before they reach the server.
    assert!(
        !faults(
            &server,
            &["add", "--operation", "Nope", "--error", "InternalFailure"]
        )
        .0
    );
}
