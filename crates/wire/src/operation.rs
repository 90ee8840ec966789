use crate::TARGET_PREFIX;

macro_rules! operations {
    ($($name:ident),* $(,)?) => {
        /// Every operation of the Kinesis API (botocore model 2013-12-02).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Operation { $($name),* }

        impl Operation {
            pub const ALL: &'static [Operation] = &[$(Operation::$name),*];

            /// The operation's name as it appears after the target prefix.
            pub fn name(self) -> &'static str {
                match self { $(Operation::$name => stringify!($name)),* }
            }

            fn from_name(name: &str) -> Option<Operation> {
                match name { $(stringify!($name) => Some(Operation::$name),)* _ => None }
            }
        }
    };
}

operations!(
    AddTagsToStream,
    CreateStream,
    DecreaseStreamRetentionPeriod,
    DeleteResourcePolicy,
    DeleteStream,
    DeregisterStreamConsumer,
    DescribeAccountSettings,
    DescribeLimits,
    DescribeStream,
    DescribeStreamConsumer,
    DescribeStreamSummary,
    DisableEnhancedMonitoring,
    EnableEnhancedMonitoring,
    GetRecords,
    GetResourcePolicy,
    GetShardIterator,
    IncreaseStreamRetentionPeriod,
    ListShards,
    ListStreamConsumers,
    ListStreams,
    ListTagsForResource,
    ListTagsForStream,
    MergeShards,
    PutRecord,
    PutRecords,
    PutResourcePolicy,
    RegisterStreamConsumer,
    RemoveTagsFromStream,
    SplitShard,
    StartStreamEncryption,
    StopStreamEncryption,
    SubscribeToShard,
    TagResource,
    UntagResource,
    UpdateAccountSettings,
    UpdateMaxRecordSize,
    UpdateShardCount,
    UpdateStreamMode,
    UpdateStreamWarmThroughput,
    UpdateStreamRecordDistributionStrategy,
    CreateQueue,
    DescribeQueue,
    ListQueues,
    UpdateQueue,
    DeleteQueue,
    ReceiveQueueRecords,
    AcknowledgeQueueRecords,
    UpdateQueueRecordsVisibility,
    ReceiveDeadLetterQueueRecords,
    AcknowledgeDeadLetterQueueRecords,
    UpdateDeadLetterQueueRecordsVisibility,
    RestoreDeadLetterQueueRecords,
    CreateChannel,
    DescribeChannel,
    ListChannels,
    UpdateChannel,
    DeleteChannel,
);

impl Operation {
    /// Parses an `X-Amz-Target` header value such as `Kinesis_20131202.PutRecord`.
    pub fn from_target(target: &str) -> Option<Operation> {
        target
            .strip_prefix(TARGET_PREFIX)
            .and_then(Operation::from_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_round_trips_through_its_target() {
        assert_eq!(Operation::ALL.len(), 57);
        for op in Operation::ALL {
            let target = format!("{TARGET_PREFIX}{}", op.name());
            assert_eq!(Operation::from_target(&target), Some(*op));
        }
        assert_eq!(Operation::from_target("Kinesis_20131202.Nope"), None);
        assert_eq!(Operation::from_target("DynamoDB_20120810.PutRecord"), None);
    }
}
