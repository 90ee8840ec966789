//! What ListQueues and ListChannels share: the `StreamFilter` (which of an account's streams to
//! look at), each stream's identifier in a summary, and paging through items sorted by
//! (stream name, item name).

use shardline_wire::shapes::{QueueStreamFilter, QueueStreamIdentifier};
use shardline_wire::Timestamp;

use crate::catalog::StreamRef;
use crate::model::StreamMeta;
use crate::Engine;

/// (stream name, item name): the order listings go in, and what their NextTokens hold.
pub(crate) type ListKey = (String, String);

impl Engine {
    /// The account's streams a `StreamFilter` keeps (all of them without one). A filter's
    /// creation time, when given, must match the stream's (to the second), so a re-created
    /// stream of the same name is told apart.
    pub(crate) fn filtered_streams(
        &self,
        account: &str,
        filter: Option<Vec<QueueStreamFilter>>,
    ) -> Vec<StreamRef> {
        let filters: Vec<(String, Option<u64>)> = filter
            .unwrap_or_default()
            .into_iter()
            .map(|f| {
                (
                    f.stream_arn.unwrap_or_default(),
                    f.stream_creation_timestamp.map(|t| t.millis.max(0) as u64),
                )
            })
            .collect();
        self.catalog
            .list(account, None)
            .into_iter()
            .filter(|stream| {
                let s = stream.read();
                let arn = s.meta.arn(&self.config.region);
                filters.is_empty()
                    || filters.iter().any(|(a, t)| {
                        *a == arn && t.is_none_or(|t| t / 1000 == s.meta.created_ms / 1000)
                    })
            })
            .collect()
    }

    /// A stream as a queue or channel summary names it.
    pub(crate) fn stream_identifier(&self, m: &StreamMeta) -> QueueStreamIdentifier {
        QueueStreamIdentifier {
            stream_arn: m.arn(&self.config.region),
            stream_creation_timestamp: Timestamp::from_millis(m.created_ms as i64),
        }
    }
}

/// Sorts items by key and takes up to `max` after `after`; also says whether more follow.
pub(crate) fn page<T>(
    mut items: Vec<(ListKey, T)>,
    after: Option<&ListKey>,
    max: usize,
) -> (Vec<(ListKey, T)>, bool) {
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let rest: Vec<_> = items
        .into_iter()
        .filter(|(k, _)| after.is_none_or(|a| k > a))
        .collect();
    let more = rest.len() > max;
    (rest.into_iter().take(max).collect(), more)
}
