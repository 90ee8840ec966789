//! Resharding invariants under random sequences of splits, merges and shard-count updates
//! with writes in between: the open shards always cover the hash-key space exactly, no record
//! lies in a closed shard past its end, and every record written is read back exactly once.

mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use shardline_wire::shapes::*;
use shardline_wire::Operation;

const MAX_HASH: u128 = u128::MAX;

#[derive(Clone, Debug)]
enum Step {
    /// Split the `n`-th open shard (modulo their number) at a point `at` of the way through.
    Split { n: usize, at: f64 },
    /// Merge the `n`-th open shard with its right neighbour, if it has one.
    Merge { n: usize },
    /// Scale to this many shards (within what UpdateShardCount allows).
    Scale { to: i64 },
    /// Put this many records with random keys.
    Put { records: usize, seed: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..16usize, 0.05..0.95f64).prop_map(|(n, at)| Step::Split { n, at }),
        (0..16usize).prop_map(|n| Step::Merge { n }),
        (1..9i64).prop_map(|to| Step::Scale { to }),
        (1..40usize, any::<u64>()).prop_map(|(records, seed)| Step::Put { records, seed }),
    ]
}

fn open_shards(engine: &shardline_engine::Engine) -> Vec<Shard> {
    let mut open: Vec<Shard> = shards(engine, "s")
        .into_iter()
        .filter(|s| s.sequence_number_range.ending_sequence_number.is_none())
        .collect();
    open.sort_by_key(|s| s.hash_key_range.starting_hash_key.parse::<u128>().unwrap());
    open
}

fn range(s: &Shard) -> (u128, u128) {
    (
        s.hash_key_range.starting_hash_key.parse().unwrap(),
        s.hash_key_range.ending_hash_key.parse().unwrap(),
    )
}

fn assert_open_shards_cover_the_space(engine: &shardline_engine::Engine) {
    let open = open_shards(engine);
    let mut next = 0u128;
    for (i, s) in open.iter().enumerate() {
        let (start, end) = range(s);
        assert_eq!(start, next, "gap or overlap before {}", s.shard_id);
        assert!(end >= start);
        if i + 1 == open.len() {
            assert_eq!(end, MAX_HASH, "the last open shard must end at 2^128-1");
        } else {
            next = end + 1;
        }
    }
}

fn run(steps: Vec<Step>) {
    let engine = engine();
    create(&engine, "s", 2);
    let mut written: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut serial = 0u64;
    // UpdateShardCount is allowed 10 times a rolling day (AWS's limit, enforced); later Scale
    // steps are skipped rather than refused.
    let mut scalings = 0;
    for step in steps {
        match step {
            Step::Split { n, at } => {
                let open = open_shards(&engine);
                let shard = &open[n % open.len()];
                let (start, end) = range(shard);
                if end - start < 2 {
                    continue;
                }
                let key = start + ((end - start) as f64 * at) as u128;
                let key = key.clamp(start + 1, end);
                engine
                    .split_shard(
                        &caller(Operation::SplitShard),
                        SplitShardInput {
                            stream_name: Some("s".into()),
                            shard_to_split: Some(shard.shard_id.clone()),
                            new_starting_hash_key: Some(key.to_string()),
                            ..SplitShardInput::default()
                        },
                    )
                    .expect("split");
            }
            Step::Merge { n } => {
                let open = open_shards(&engine);
                if open.len() < 2 {
                    continue;
                }
                let i = n % (open.len() - 1);
                engine
                    .merge_shards(
                        &caller(Operation::MergeShards),
                        MergeShardsInput {
                            stream_name: Some("s".into()),
                            shard_to_merge: Some(open[i].shard_id.clone()),
                            adjacent_shard_to_merge: Some(open[i + 1].shard_id.clone()),
                            ..MergeShardsInput::default()
                        },
                    )
                    .expect("merge");
            }
            Step::Scale { to } => {
                let current = open_shards(&engine).len() as i64;
                // UpdateShardCount allows at most doubling and at least halving.
                let to = to.clamp((current + 1) / 2, current * 2);
                if to == current || scalings == 10 {
                    continue;
                }
                scalings += 1;
                engine
                    .update_shard_count(
                        &caller(Operation::UpdateShardCount),
                        UpdateShardCountInput {
                            stream_name: Some("s".into()),
                            target_shard_count: Some(to),
                            scaling_type: Some("UNIFORM_SCALING".into()),
                            ..UpdateShardCountInput::default()
                        },
                    )
                    .expect("update shard count");
            }
            Step::Put { records, seed } => {
                let batch: Vec<_> = (0..records)
                    .map(|i| {
                        serial += 1;
                        let data = serial.to_be_bytes().to_vec();
                        written.insert(data.clone(), 0);
                        entry(&format!("{seed}-{i}"), &data)
                    })
                    .collect();
                let out = put_records(&engine, "s", batch).expect("put");
                assert_eq!(out.failed_record_count, 0);
            }
        }
        assert_open_shards_cover_the_space(&engine);
    }
    for shard in shards(&engine, "s") {
        let (records, _) = read_shard(&engine, "s", &shard.shard_id);
        if let Some(end) = &shard.sequence_number_range.ending_sequence_number {
            for r in &records {
                let seq = r.sequence_number.as_str();
                // Sequence numbers are decimal integers too long for u128.
                assert!(
                    (seq.len(), seq) <= (end.len(), end.as_str()),
                    "record {seq} past the end {end} of {}",
                    shard.shard_id
                );
            }
        }
        for r in records {
            *written
                .get_mut(&r.data.0[..])
                .expect("a record that was written") += 1;
        }
    }
    for (data, seen) in written {
        assert_eq!(seen, 1, "record {data:?} read {seen} times");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn resharding_keeps_the_hash_space_covered_and_every_record_once(
        steps in proptest::collection::vec(step(), 1..24)
    ) {
        run(steps);
    }
}
