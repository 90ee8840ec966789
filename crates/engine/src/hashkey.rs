//! The 128-bit hash-key space: MD5 of the partition key, and the uniform shard ranges
//! `i·floor(2^128/N)` that AWS uses (the last range ends at 2^128-1).

use md5::{Digest, Md5};

pub const MAX_HASH_KEY: u128 = u128::MAX;

/// The hash key of a partition key: MD5 of its UTF-8 bytes, read as a big-endian integer.
pub fn hash_partition_key(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// [`hash_partition_key`] of many keys at once (see `md5_lanes.rs`; a lone key is hashed on
/// its own, which is cheaper than a batch of eight lanes).
pub fn hash_partition_keys(partition_keys: &[&str]) -> Vec<u128> {
    if let [key] = partition_keys {
        return vec![hash_partition_key(key)];
    }
    let messages: Vec<&[u8]> = partition_keys.iter().map(|k| k.as_bytes()).collect();
    crate::md5_lanes::digests(&messages)
        .into_iter()
        .map(u128::from_be_bytes)
        .collect()
}

/// Parses a canonical decimal hash key; `None` if it is not a number in `[0, 2^128-1]`.
pub fn parse_hash_key(s: &str) -> Option<u128> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u128>().ok()
}

/// `floor(2^128 / n)` without overflowing, for `n >= 2`.
fn uniform_width(n: u128) -> u128 {
    let q = MAX_HASH_KEY / n;
    if MAX_HASH_KEY % n == n - 1 {
        q + 1
    } else {
        q
    }
}

/// The inclusive ranges of `n` equal shards, in order.
pub fn uniform_ranges(n: u32) -> Vec<(u128, u128)> {
    if n <= 1 {
        // 2^128 itself does not fit in a u128.
        return vec![(0, MAX_HASH_KEY)];
    }
    let n = u128::from(n);
    let width = uniform_width(n);
    (0..n)
        .map(|i| {
            let start = i * width;
            let end = if i == n - 1 {
                MAX_HASH_KEY
            } else {
                (i + 1) * width - 1
            };
            (start, end)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_vectors_of_known_partition_keys() {
        assert_eq!(
            hash_partition_key("a"),
            16955237001963240173058271559858726497
        );
        assert_eq!(
            hash_partition_key("partitionKey"),
            193318062818912349798954611745638949166
        );
        assert_eq!(
            hash_partition_key("4439109"),
            201057218775526938871507352748343092644
        );
        assert_eq!(
            hash_partition_key("shardId"),
            52013348425258263061965020754098239564
        );
    }

    #[test]
    fn uniform_ranges_match_aws() {
        assert_eq!(uniform_ranges(1), vec![(0, MAX_HASH_KEY)]);
        assert_eq!(
            uniform_ranges(2),
            vec![
                (0, 170141183460469231731687303715884105727),
                (170141183460469231731687303715884105728, MAX_HASH_KEY)
            ]
        );
        assert_eq!(
            uniform_ranges(3),
            vec![
                (0, 113427455640312821154458202477256070484),
                (
                    113427455640312821154458202477256070485,
                    226854911280625642308916404954512140969
                ),
                (226854911280625642308916404954512140970, MAX_HASH_KEY)
            ]
        );
        let five = uniform_ranges(5);
        assert_eq!(five[0].1, 68056473384187692692674921486353642290);
        assert_eq!(five[3].1, 272225893536750770770699685945414569163);
        for n in 1..=64 {
            let r = uniform_ranges(n);
            assert_eq!(r[0].0, 0);
            assert_eq!(r[r.len() - 1].1, MAX_HASH_KEY);
            for w in r.windows(2) {
                assert_eq!(w[0].1 + 1, w[1].0);
            }
        }
    }

    #[test]
    fn parse_rejects_out_of_range() {
        assert_eq!(parse_hash_key("0"), Some(0));
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211455"),
            Some(MAX_HASH_KEY)
        );
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211456"),
            None
        );
        assert_eq!(parse_hash_key("-1"), None);
    }
}
