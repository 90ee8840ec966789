//! Encryption at rest: with StartStreamEncryption on, records on disk are not readable as
//! plain text and still read back intact (also after a restart); unknown KMS keys are refused.

use crate::common::{create_stream, error_code, read_shard, Server};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::EncryptionType;
use aws_sdk_kinesis::Client;

const SECRET: &str = "TOP-SECRET-PAYLOAD-0123456789";

fn disk_contains(dir: &std::path::Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                return true;
            }
        }
    }
    false
}

#[tokio::test]
async fn encrypted_records_are_sealed_on_disk_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::disk(dir.path(), &["--kms-key", "alias/my-key"]);
    let c = server.client();
    create_stream(&c, "vault", 1).await;

    let err = c
        .start_stream_encryption()
        .stream_name("vault")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/does-not-exist")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "KMSNotFoundException");

    c.start_stream_encryption()
        .stream_name("vault")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .unwrap();
    let summary = c
        .describe_stream_summary()
        .stream_name("vault")
        .send()
        .await
        .unwrap();
    let s = summary.stream_description_summary().unwrap();
    assert_eq!(s.encryption_type(), Some(&EncryptionType::Kms));
    assert_eq!(s.key_id(), Some("alias/aws/kinesis"));
    // The stream is UPDATING while encryption starts; writes are accepted meanwhile.
    let put = c
        .put_record()
        .stream_name("vault")
        .partition_key("pk")
        .data(Blob::new(SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(put.encryption_type(), Some(&EncryptionType::Kms));

    assert!(
        !disk_contains(dir.path(), SECRET.as_bytes()),
        "plain text found on disk"
    );
    assert_eq!(
        read_all(&c).await,
        [(SECRET.to_string(), EncryptionType::Kms)]
    );

    server.restart();
    let c = server.client();
    assert_eq!(
        read_all(&c).await,
        [(SECRET.to_string(), EncryptionType::Kms)]
    );

    // After StopStreamEncryption new records are plain; the sealed one still reads.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    c.stop_stream_encryption()
        .stream_name("vault")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .unwrap();
    c.put_record()
        .stream_name("vault")
        .partition_key("pk")
        .data(Blob::new("plain-after-stop"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        read_all(&c).await,
        [
            (SECRET.to_string(), EncryptionType::Kms),
            ("plain-after-stop".to_string(), EncryptionType::None)
        ]
    );
    assert!(disk_contains(dir.path(), b"plain-after-stop"));
    // A configured customer key is accepted too.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    c.start_stream_encryption()
        .stream_name("vault")
        .encryption_type(EncryptionType::Kms)
        .key_id("arn:aws:kms:us-east-1:000000000000:alias/my-key")
        .send()
        .await
        .unwrap();
}

async fn read_all(c: &Client) -> Vec<(String, EncryptionType)> {
    read_shard(c, "vault", "shardId-000000000000")
        .await
        .records
        .iter()
        .map(|x| {
            (
                String::from_utf8(x.data().as_ref().to_vec()).unwrap(),
                x.encryption_type().cloned().unwrap_or(EncryptionType::None),
            )
        })
        .collect()
}
