//! Shard iterators: where a reader is in a shard, sealed so clients can't forge them.
//! Layout before sealing: version, creation time, partition, offset, shard index, account,
//! stream name. At most 1 + 8 + 8 + 8 + 4 + 1 + 12 + 1 + 128 + 16 (MAC) = 187 bytes, which is
//! 252 base64 characters, within the model's 512.

use crate::seal::Sealer;

const VERSION: u8 = 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardIterator {
    pub created_ms: u64,
    pub partition: u64,
    pub offset: u64,
    pub shard_index: u32,
    pub account: String,
    pub stream: String,
}

impl ShardIterator {
    pub fn seal(&self, sealer: &Sealer) -> String {
        let mut b = Vec::with_capacity(64 + self.stream.len());
        b.push(VERSION);
        b.extend_from_slice(&self.created_ms.to_be_bytes());
        b.extend_from_slice(&self.partition.to_be_bytes());
        b.extend_from_slice(&self.offset.to_be_bytes());
        b.extend_from_slice(&self.shard_index.to_be_bytes());
        for s in [&self.account, &self.stream] {
            b.push(s.len() as u8);
            b.extend_from_slice(s.as_bytes());
        }
        sealer.seal(&b)
    }

    pub fn open(sealer: &Sealer, token: &str) -> Option<ShardIterator> {
        let b = sealer.open(token)?;
        let mut r = Reader(&b);
        if r.take(1)?[0] != VERSION {
            return None;
        }
        let created_ms = r.u64()?;
        let partition = r.u64()?;
        let offset = r.u64()?;
        let shard_index = u32::from_be_bytes(r.take(4)?.try_into().ok()?);
        let account = r.string()?;
        let stream = r.string()?;
        Some(ShardIterator {
            created_ms,
            partition,
            offset,
            shard_index,
            account,
            stream,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<String> {
        let len = self.take(1)?[0] as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_length_limit() {
        let sealer = Sealer::new([1; 32]);
        let it = ShardIterator {
            created_ms: 1_700_000_000_000,
            partition: 42,
            offset: 99,
            shard_index: 3,
            account: "000000000000".into(),
            stream: "s".repeat(128),
        };
        let token = it.seal(&sealer);
        assert!(token.len() <= 512, "{}", token.len());
        assert_eq!(ShardIterator::open(&sealer, &token), Some(it));
        assert_eq!(ShardIterator::open(&sealer, "AAAA"), None);
    }
}
