//! Where a hash key goes: the stream's open shards (ListShards with `AT_LATEST`), looked up by
//! binary search. Refreshed when a record lands on a shard other than the one predicted, after
//! a reshard, and now and then.

use aws_sdk_kinesis::types::{ShardFilter, ShardFilterType};
use aws_sdk_kinesis::Client;

/// One open shard: its hash-key range and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardRange {
    pub start: u128,
    pub end: u128,
    pub id: String,
}

/// The open shards of a stream, by hash-key range.
#[derive(Clone, Debug, Default)]
pub struct ShardMap {
    shards: Vec<ShardRange>,
}

impl ShardMap {
    pub fn new(mut shards: Vec<ShardRange>) -> ShardMap {
        shards.sort_by_key(|s| s.start);
        ShardMap { shards }
    }

    /// The shard whose range holds `hash`; `None` if the map is empty or has a gap there.
    pub fn shard_for(&self, hash: u128) -> Option<&ShardRange> {
        let i = self.shards.partition_point(|s| s.start <= hash);
        let s = self.shards.get(i.checked_sub(1)?)?;
        (hash <= s.end).then_some(s)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.range_of(id).is_some()
    }

    /// The open shard `id`, if the map has it.
    pub fn range_of(&self, id: &str) -> Option<&ShardRange> {
        self.shards.iter().find(|s| s.id == id)
    }

    pub fn len(&self) -> usize {
        self.shards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }

    /// Reads the stream's open shards.
    ///
    /// # Errors
    /// The SDK's error, as text, when ListShards fails or answers a range that is not a number.
    pub async fn load(client: &Client, stream: &str) -> Result<ShardMap, String> {
        let mut shards = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..10_000 {
            let call = match &token {
                Some(t) => client.list_shards().next_token(t),
                None => client
                    .list_shards()
                    .stream_name(stream)
                    .max_results(1000)
                    .shard_filter(
                        ShardFilter::builder()
                            .r#type(ShardFilterType::AtLatest)
                            .build()
                            .map_err(|e| e.to_string())?,
                    ),
            };
            let page = call.send().await.map_err(|e| {
                let e = aws_sdk_kinesis::error::DisplayErrorContext(e);
                format!("ListShards: {e}")
            })?;
            for s in page.shards() {
                let Some(range) = s.hash_key_range() else {
                    continue;
                };
                let parse = |t: &str| t.parse::<u128>().map_err(|_| format!("hash key {t}"));
                shards.push(ShardRange {
                    start: parse(range.starting_hash_key())?,
                    end: parse(range.ending_hash_key())?,
                    id: s.shard_id().to_string(),
                });
            }
            match page.next_token() {
                Some(t) => token = Some(t.to_string()),
                None => return Ok(ShardMap::new(shards)),
            }
        }
        Err("ListShards did not end".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_range() {
        let map = ShardMap::new(vec![
            ShardRange {
                start: 100,
                end: u128::MAX,
                id: "b".into(),
            },
            ShardRange {
                start: 0,
                end: 99,
                id: "a".into(),
            },
        ]);
        assert_eq!(map.shard_for(0).map(|s| s.id.as_str()), Some("a"));
        assert_eq!(map.shard_for(99).map(|s| s.id.as_str()), Some("a"));
        assert_eq!(map.shard_for(100).map(|s| s.id.as_str()), Some("b"));
        assert_eq!(map.shard_for(u128::MAX).map(|s| s.id.as_str()), Some("b"));
        assert!(ShardMap::default().shard_for(5).is_none());
    }
}
