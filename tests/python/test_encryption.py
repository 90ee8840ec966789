"""Encryption settings: StartStreamEncryption and StopStreamEncryption, KMS key names and errors.

Servers run with conftest's TEST_ARGS (`--create-delay-ms 0 --delete-delay-ms 0 --limits off`), so new streams
and consumers are ACTIVE at once and throughput limits stay out of the way; tests that need otherwise pass
their own flags (a later flag wins). Every wait is bounded.
"""

from __future__ import annotations

from conftest import ACCOUNT, REGION, create_stream, make_client
from support import SHARD, assert_error, client_error, put, read_shard, summary, wait_active


# --- encryption -------------------------------------------------------------------------------------


def test_unknown_kms_key_is_kms_not_found(kinesis):
    create_stream(kinesis, "kms-unknown", 1)
    for key in ("alias/no-such-key", "arn:aws:kms:us-east-1:000000000000:key/12345678-1234-1234-1234-123456789012"):
        assert_error(
            client_error(kinesis.start_stream_encryption, StreamName="kms-unknown", EncryptionType="KMS", KeyId=key),
            "KMSNotFoundException",
        )
    s = summary(kinesis, "kms-unknown")
    assert s["EncryptionType"] == "NONE" and "KeyId" not in s


def test_start_and_stop_encryption(kinesis):
    create_stream(kinesis, "kms", 1)
    plain = put(kinesis, "kms", b"plain")
    # AWS names no EncryptionType for what an unencrypted stream writes or returns.
    assert "EncryptionType" not in plain
    kinesis.start_stream_encryption(StreamName="kms", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    s = wait_active(kinesis, "kms")
    assert (s["EncryptionType"], s["KeyId"]) == ("KMS", "alias/aws/kinesis")
    d = kinesis.describe_stream(StreamName="kms")["StreamDescription"]
    assert (d["EncryptionType"], d["KeyId"]) == ("KMS", "alias/aws/kinesis")
    sealed = put(kinesis, "kms", b"secret")
    assert sealed["EncryptionType"] == "KMS"
    batch = kinesis.put_records(StreamName="kms", Records=[{"Data": b"batch", "PartitionKey": "pk"}])
    assert batch["EncryptionType"] == "KMS"

    kinesis.stop_stream_encryption(StreamName="kms", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    s = wait_active(kinesis, "kms")
    assert s["EncryptionType"] == "NONE" and "KeyId" not in s
    after = put(kinesis, "kms", b"plain again")
    assert "EncryptionType" not in after
    plain_batch = kinesis.put_records(StreamName="kms", Records=[{"Data": b"batch", "PartitionKey": "pk"}])
    assert "EncryptionType" not in plain_batch
    records = read_shard(kinesis, "kms", SHARD(0))
    assert [(r["Data"], r.get("EncryptionType")) for r in records] == [
        (b"plain", None),
        (b"secret", "KMS"),
        (b"batch", "KMS"),
        (b"plain again", None),
        (b"batch", None),
    ]


def test_configured_kms_keys_and_key_arns_are_accepted(start_shardline):
    kinesis = make_client(start_shardline("--kms-key", "alias/team-key"))
    create_stream(kinesis, "kms-custom", 1)
    kinesis.start_stream_encryption(StreamName="kms-custom", EncryptionType="KMS", KeyId="alias/team-key")
    assert wait_active(kinesis, "kms-custom")["KeyId"] == "alias/team-key"
    arn_key = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/kinesis"
    kinesis.start_stream_encryption(StreamName="kms-custom", EncryptionType="KMS", KeyId=arn_key)
    assert wait_active(kinesis, "kms-custom")["KeyId"] == arn_key
    assert_error(
        client_error(
            kinesis.start_stream_encryption, StreamName="kms-custom", EncryptionType="KMS", KeyId="alias/other"
        ),
        "KMSNotFoundException",
    )
