//! NextTokens for ListStreams and ListShards: sealed, self-contained, expiring after 300 s.

use serde::{Deserialize, Serialize};
use shardline_wire::{ApiError, ErrorCode};

use crate::error::Result;
use crate::seal::Sealer;

#[derive(Serialize, Deserialize)]
pub struct ListShardsToken {
    pub created_ms: u64,
    pub account: String,
    pub stream: String,
    /// Index of the last shard returned.
    pub after: u32,
    pub max_results: usize,
    pub filter: ShardFilterSpec,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ShardFilterSpec {
    /// Every shard not yet expired (also the default).
    FromTrimHorizon,
    AtTrimHorizon,
    AtLatest,
    AtTimestamp(u64),
    FromTimestamp(u64),
    AfterShardId(u32),
}

#[derive(Serialize, Deserialize)]
pub struct ListStreamsToken {
    pub created_ms: u64,
    pub account: String,
    pub after: String,
}

pub fn seal<T: Serialize>(sealer: &Sealer, token: &T) -> String {
    sealer.seal(&serde_json::to_vec(token).unwrap_or_default())
}

/// Opens a token, checking its age. `created` reads the creation time out of the token.
pub fn open<T: for<'de> Deserialize<'de>>(
    sealer: &Sealer,
    text: &str,
    now_ms: u64,
    ttl_ms: u64,
    created: impl Fn(&T) -> u64,
) -> Result<T> {
    let token: T = sealer
        .open(text)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| ApiError::invalid_argument("Invalid NextToken."))?;
    let at = created(&token);
    if now_ms.saturating_sub(at) > ttl_ms {
        return Err(ApiError::new(
            ErrorCode::ExpiredNextToken,
            format!("The NextToken has expired. It was created {} ms ago, longer than the {ttl_ms} ms it is valid for.", now_ms - at),
        )
        .into());
    }
    Ok(token)
}
