//! Resharding through aws-sdk-kinesis: SplitShard, MergeShards, UpdateShardCount; closed
//! parents end with ChildShards and no NextShardIterator; ListShards AT_LATEST stays an exact
//! cover of the hash space; and after random reshards every record is read exactly once by
//! following parents before children.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{create_stream, error_code, error_message, read_shard, Server};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{ScalingType, Shard, ShardFilter, ShardFilterType};
use aws_sdk_kinesis::Client;

const MAX: u128 = u128::MAX;

async fn all_shards(c: &Client, stream: &str, filter: Option<ShardFilterType>) -> Vec<Shard> {
    let mut out = Vec::new();
    let mut req = c.list_shards().stream_name(stream);
    if let Some(f) = filter {
        req = req.shard_filter(ShardFilter::builder().r#type(f).build().unwrap());
    }
    let mut page = req.send().await.unwrap();
    for _ in 0..100 {
        out.extend(page.shards().iter().cloned());
        let Some(t) = page.next_token().map(str::to_owned) else {
            break;
        };
        page = c.list_shards().next_token(t).send().await.unwrap();
    }
    out
}

fn range(s: &Shard) -> (u128, u128) {
    let r = s.hash_key_range().unwrap();
    (
        r.starting_hash_key().parse().unwrap(),
        r.ending_hash_key().parse().unwrap(),
    )
}

/// Open shards must cover 0..2^128-1 with no gap or overlap (KCL's check).
async fn assert_cover(c: &Client, stream: &str) {
    let mut open = all_shards(c, stream, Some(ShardFilterType::AtLatest)).await;
    open.sort_by_key(|s| range(s).0);
    assert_eq!(range(&open[0]).0, 0);
    assert_eq!(range(open.last().unwrap()).1, MAX);
    for w in open.windows(2) {
        assert_eq!(range(&w[0]).1 + 1, range(&w[1]).0, "gap or overlap");
    }
    for s in &open {
        assert!(s
            .sequence_number_range()
            .unwrap()
            .ending_sequence_number()
            .is_none());
    }
}

async fn put(c: &Client, stream: &str, hash: u128, data: &str) -> (String, String) {
    let r = c
        .put_record()
        .stream_name(stream)
        .partition_key("k")
        .explicit_hash_key(hash.to_string())
        .data(Blob::new(data))
        .send()
        .await
        .unwrap();
    (r.shard_id().to_owned(), r.sequence_number().to_owned())
}

#[tokio::test]
async fn split_then_merge() {
    let server = Server::memory(&[]);
    let c = server.client();
    create_stream(&c, "rs", 1).await;
    put(&c, "rs", 5, "before").await;
    let half = 1u128 << 127;

    // Split key outside the shard's range (must be > start + 1 and < end).
    let err = c
        .split_shard()
        .stream_name("rs")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidArgumentException");
    assert!(error_message(&err).starts_with("NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream rs under account 000000000000 is not both greater than one plus the shard's StartingHashKey 0"));

    c.split_shard()
        .stream_name("rs")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key(half.to_string())
        .send()
        .await
        .unwrap();
    // Writes go to the children at once.
    assert_eq!(put(&c, "rs", 5, "low").await.0, "shardId-000000000001");
    assert_eq!(put(&c, "rs", MAX, "high").await.0, "shardId-000000000002");

    let shards = all_shards(&c, "rs", None).await;
    assert_eq!(shards.len(), 3);
    assert!(shards[0]
        .sequence_number_range()
        .unwrap()
        .ending_sequence_number()
        .is_some());
    assert_eq!(shards[1].parent_shard_id(), Some("shardId-000000000000"));
    assert_eq!(range(&shards[1]), (0, half - 1));
    assert_eq!(range(&shards[2]), (half, MAX));
    assert_cover(&c, "rs").await;

    let (data, next, children) = lineage(&c, "rs", "shardId-000000000000").await;
    assert_eq!(data, ["before"]);
    assert!(!next);
    assert_eq!(
        children,
        [
            (
                "shardId-000000000001".to_string(),
                vec!["shardId-000000000000".to_string()]
            ),
            (
                "shardId-000000000002".to_string(),
                vec!["shardId-000000000000".to_string()]
            ),
        ]
    );

    // Not adjacent / closed shards refuse to merge.
    let err = c
        .merge_shards()
        .stream_name("rs")
        .shard_to_merge("shardId-000000000000")
        .adjacent_shard_to_merge("shardId-000000000001")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidArgumentException");
    c.merge_shards()
        .stream_name("rs")
        .shard_to_merge("shardId-000000000001")
        .adjacent_shard_to_merge("shardId-000000000002")
        .send()
        .await
        .unwrap();
    let shards = all_shards(&c, "rs", None).await;
    assert_eq!(shards[3].parent_shard_id(), Some("shardId-000000000001"));
    assert_eq!(
        shards[3].adjacent_parent_shard_id(),
        Some("shardId-000000000002")
    );
    assert_eq!(range(&shards[3]), (0, MAX));
    let (_, _, children) = lineage(&c, "rs", "shardId-000000000002").await;
    // A merge child lists both parents.
    assert_eq!(
        children,
        [(
            "shardId-000000000003".to_string(),
            vec![
                "shardId-000000000001".to_string(),
                "shardId-000000000002".to_string()
            ]
        )]
    );
    assert_cover(&c, "rs").await;
}

#[tokio::test]
async fn update_shard_count_keeps_uniform_ranges_and_limits() {
    let server = Server::memory(&[]);
    let c = server.client();
    create_stream(&c, "sc", 4).await;
    let err = c
        .update_shard_count()
        .stream_name("sc")
        .target_shard_count(9)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidArgumentException");
    let err = c
        .update_shard_count()
        .stream_name("sc")
        .target_shard_count(1)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidArgumentException");
    for target in [8, 5, 3, 6, 4] {
        let out = c
            .update_shard_count()
            .stream_name("sc")
            .target_shard_count(target)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await
            .unwrap();
        assert_eq!(out.target_shard_count(), Some(target));
        let mut open = all_shards(&c, "sc", Some(ShardFilterType::AtLatest)).await;
        open.sort_by_key(|s| range(s).0);
        assert_eq!(open.len(), target as usize);
        // Exactly AWS's uniform layout: shard i of N starts at i*floor(2^128/N).
        let width = if target == 1 {
            0
        } else {
            MAX / target as u128 + u128::from(MAX % target as u128 == target as u128 - 1)
        };
        for (i, s) in open.iter().enumerate() {
            assert_eq!(range(s).0, i as u128 * width, "target {target}, shard {i}");
        }
        assert_cover(&c, "sc").await;
    }
}

#[tokio::test]
async fn random_reshards_lose_and_repeat_nothing() {
    let server = Server::memory(&[]);
    let c = server.client();
    create_stream(&c, "rnd", 2).await;
    let mut seed: u64 = 0x5eed_1234_abcd;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut written = BTreeSet::new();
    let mut n = 0;
    for step in 0..12 {
        for _ in 0..10 {
            let hash = (u128::from(rand()) << 64) | u128::from(rand());
            let data = format!("r{n}");
            n += 1;
            put(&c, "rnd", hash, &data).await;
            written.insert(data);
        }
        let mut open = all_shards(&c, "rnd", Some(ShardFilterType::AtLatest)).await;
        open.sort_by_key(|s| range(s).0);
        match rand() % 3 {
            0 => {
                let s = &open[(rand() % open.len() as u64) as usize];
                let (a, b) = range(s);
                if b - a > 4 {
                    let key = a + 2 + (u128::from(rand()) % (b - a - 3));
                    c.split_shard()
                        .stream_name("rnd")
                        .shard_to_split(s.shard_id())
                        .new_starting_hash_key(key.to_string())
                        .send()
                        .await
                        .unwrap();
                }
            }
            1 if open.len() > 1 => {
                let i = (rand() % (open.len() as u64 - 1)) as usize;
                c.merge_shards()
                    .stream_name("rnd")
                    .shard_to_merge(open[i].shard_id())
                    .adjacent_shard_to_merge(open[i + 1].shard_id())
                    .send()
                    .await
                    .unwrap();
            }
            _ => {
                let cur = open.len() as i32;
                let target = ((cur / 2).max(1) + (rand() % (cur as u64 * 2)) as i32)
                    .min(cur * 2)
                    .max(1);
                c.update_shard_count()
                    .stream_name("rnd")
                    .target_shard_count(target)
                    .scaling_type(ScalingType::UniformScaling)
                    .send()
                    .await
                    .unwrap();
            }
        }
        assert_cover(&c, "rnd").await;
        let _ = step;
    }

    // Read every shard, parents before children, as KCL does.
    let shards = all_shards(&c, "rnd", None).await;
    let parents: BTreeMap<String, Vec<String>> = shards
        .iter()
        .map(|s| {
            let p = s
                .parent_shard_id()
                .into_iter()
                .chain(s.adjacent_parent_shard_id())
                .map(str::to_owned)
                .collect();
            (s.shard_id().to_owned(), p)
        })
        .collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut seen: Vec<String> = Vec::new();
    while done.len() < shards.len() {
        let ready: Vec<String> = parents
            .iter()
            .filter(|(id, ps)| {
                !done.contains(*id)
                    && ps
                        .iter()
                        .all(|p| done.contains(p) || !parents.contains_key(p))
            })
            .map(|(id, _)| id.clone())
            .collect();
        assert!(!ready.is_empty(), "lineage has a cycle");
        for id in ready {
            let data = read_shard(&c, "rnd", &id).await.texts();
            seen.extend(data);
            done.insert(id);
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a record was read twice");
    assert_eq!(unique, written, "every record is read exactly once");
}

/// Reads a shard to its end; returns (data, whether it is still open, child shard ids with
/// their parents).
async fn lineage(
    c: &Client,
    stream: &str,
    shard: &str,
) -> (Vec<String>, bool, Vec<(String, Vec<String>)>) {
    let read = read_shard(c, stream, shard).await;
    let children = read
        .children
        .iter()
        .flatten()
        .map(|ch| (ch.shard_id().to_owned(), ch.parent_shards().to_vec()))
        .collect();
    (read.texts(), read.children.is_none(), children)
}

async fn status(c: &Client, stream: &str) -> aws_sdk_kinesis::types::StreamStatus {
    c.describe_stream_summary()
        .stream_name(stream)
        .send()
        .await
        .unwrap()
        .stream_description_summary()
        .unwrap()
        .stream_status()
        .clone()
}

/// Waits (at most 10 s) for the stream to be ACTIVE.
async fn wait_active(c: &Client, stream: &str) {
    for _ in 0..200 {
        if status(c, stream).await == aws_sdk_kinesis::types::StreamStatus::Active {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{stream} did not become ACTIVE within 10 s");
}

/// Splits `shard` (the whole hash space) at 2^127.
async fn split_in_half(c: &Client, stream: &str, shard: &str) {
    c.split_shard()
        .stream_name(stream)
        .shard_to_split(shard)
        .new_starting_hash_key((1u128 << 127).to_string())
        .send()
        .await
        .unwrap();
}

fn open_ids(shards: &[Shard]) -> Vec<String> {
    shards
        .iter()
        .filter(|s| {
            s.sequence_number_range()
                .unwrap()
                .ending_sequence_number()
                .is_none()
        })
        .map(|s| s.shard_id().to_owned())
        .collect()
}

/// As on AWS, a reshard shows while the stream is UPDATING only as its status: descriptions
/// list the shards as they were and writes go to them; the new layout appears, and takes the
/// writes, when the stream is ACTIVE again.
#[tokio::test]
async fn updating_streams_keep_their_shards_until_active() {
    let server = Server::memory(&["--create-delay-ms", "800", "--housekeeping-ms", "50"]);
    let c = server.client();
    create_stream(&c, "up", 1).await;
    wait_active(&c, "up").await;
    use aws_sdk_kinesis::types::StreamStatus;

    split_in_half(&c, "up", "shardId-000000000000").await;
    assert_eq!(status(&c, "up").await, StreamStatus::Updating);
    let during = all_shards(&c, "up", None).await;
    assert_eq!(open_ids(&during), vec!["shardId-000000000000"]);
    assert_eq!(during.len(), 1);
    let described = c.describe_stream().stream_name("up").send().await.unwrap();
    assert_eq!(described.stream_description().unwrap().shards().len(), 1);
    // Writes during UPDATING go to the shard as it was.
    let (shard, _) = put(&c, "up", MAX, "during split").await;
    assert_eq!(shard, "shardId-000000000000");
    // Another reshard is refused until the first is done.
    let err = c
        .merge_shards()
        .stream_name("up")
        .shard_to_merge("shardId-000000000000")
        .adjacent_shard_to_merge("shardId-000000000001")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceInUseException");

    wait_active(&c, "up").await;
    let after = all_shards(&c, "up", None).await;
    assert_eq!(after.len(), 3);
    assert_eq!(
        open_ids(&after),
        vec!["shardId-000000000001", "shardId-000000000002"]
    );
    assert_eq!(
        read_shard(&c, "up", "shardId-000000000000").await.texts(),
        vec!["during split"]
    );
    let (shard, _) = put(&c, "up", MAX, "after split").await;
    assert_eq!(shard, "shardId-000000000002");
    assert_cover(&c, "up").await;

    c.merge_shards()
        .stream_name("up")
        .shard_to_merge("shardId-000000000001")
        .adjacent_shard_to_merge("shardId-000000000002")
        .send()
        .await
        .unwrap();
    assert_eq!(status(&c, "up").await, StreamStatus::Updating);
    assert_eq!(
        open_ids(&all_shards(&c, "up", None).await),
        vec!["shardId-000000000001", "shardId-000000000002"]
    );
    let (shard, _) = put(&c, "up", 0, "during merge").await;
    assert_eq!(shard, "shardId-000000000001");
    wait_active(&c, "up").await;
    assert_eq!(
        open_ids(&all_shards(&c, "up", None).await),
        vec!["shardId-000000000003"]
    );

    c.update_shard_count()
        .stream_name("up")
        .target_shard_count(2)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    assert_eq!(status(&c, "up").await, StreamStatus::Updating);
    assert_eq!(
        open_ids(&all_shards(&c, "up", None).await),
        vec!["shardId-000000000003"]
    );
    wait_active(&c, "up").await;
    let scaled = all_shards(&c, "up", Some(ShardFilterType::AtLatest)).await;
    assert_eq!(scaled.len(), 2);
    assert_cover(&c, "up").await;
    // Nothing written during the changes was lost: each is in the shard it was put to.
    assert_eq!(
        read_shard(&c, "up", "shardId-000000000001").await.texts(),
        vec!["during merge"]
    );
    assert_eq!(
        read_shard(&c, "up", "shardId-000000000002").await.texts(),
        vec!["after split"]
    );
}

/// A reshard accepted while the stream is UPDATING is in the manifest: `kill -9` before it is
/// applied, and the restarted server applies it when the update time is over.
#[tokio::test]
async fn a_pending_reshard_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::disk(
        dir.path(),
        &["--create-delay-ms", "1500", "--housekeeping-ms", "50"],
    );
    let c = server.client();
    create_stream(&c, "pend", 1).await;
    wait_active(&c, "pend").await;
    put(&c, "pend", 7, "before").await;
    split_in_half(&c, "pend", "shardId-000000000000").await;
    server.kill();
    server.restart();
    let c = server.client();
    wait_active(&c, "pend").await;
    let shards = all_shards(&c, "pend", None).await;
    assert_eq!(
        open_ids(&shards),
        vec!["shardId-000000000001", "shardId-000000000002"]
    );
    assert_eq!(
        read_shard(&c, "pend", "shardId-000000000000").await.texts(),
        vec!["before"]
    );
    assert_cover(&c, "pend").await;
}
