//! The KCL's lease table on DynamoDB (or any DynamoDB-compatible server), attribute for
//! attribute, so the Java KCL and this library can take turns on one table: `leaseKey` (S, the
//! hash key), `leaseOwner` (S, absent when unowned), `leaseCounter` (N), `checkpoint` (S) and
//! `checkpointSubSequenceNumber` (N), `ownerSwitchesSinceCheckpoint` (N), `parentShardId` and
//! `childShardIds` (SS, absent when empty), `startingHashKey`/`endingHashKey` (S),
//! `pendingCheckpoint*`, `checkpointOwner` (KCL 3), `entityType` = `LEASE` (KCL 3.5). A new
//! table gets the KCL 3 index `LeaseOwnerToLeaseKeyIndex` (leaseOwner, leaseKey; keys only) up
//! front, so a KCL 3 worker need not add it. Items of a KCL 3.5 table that are not leases
//! (`entityType` other than `LEASE`) are left alone.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TableStatus,
};
use aws_sdk_dynamodb::Client;

use super::{Conditional, LeaseStore, StoreError};
use crate::lease::{Checkpoint, Lease};

const INDEX: &str = "LeaseOwnerToLeaseKeyIndex";

pub struct DynamoDbStore {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn error<E: ProvideErrorMetadata + std::fmt::Debug>(what: &str, e: &E) -> StoreError {
    StoreError(format!(
        "{what}: {}",
        e.message()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{e:?}"))
    ))
}

/// Whether an SDK error is a failed condition.
fn condition_failed<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// The item the KCL writes for a new lease.
fn to_item(lease: &Lease) -> Item {
    let mut item = Item::new();
    item.insert("leaseKey".into(), s(&lease.key));
    item.insert("leaseCounter".into(), n(lease.counter));
    if let Some(owner) = &lease.owner {
        item.insert("leaseOwner".into(), s(owner));
    }
    item.insert(
        "ownerSwitchesSinceCheckpoint".into(),
        n(lease.owner_switches_since_checkpoint),
    );
    item.insert("checkpoint".into(), s(lease.checkpoint.as_stored()));
    item.insert(
        "checkpointSubSequenceNumber".into(),
        n(lease.checkpoint.sub()),
    );
    if !lease.parents.is_empty() {
        item.insert(
            "parentShardId".into(),
            AttributeValue::Ss(lease.parents.clone()),
        );
    }
    if !lease.children.is_empty() {
        item.insert(
            "childShardIds".into(),
            AttributeValue::Ss(lease.children.clone()),
        );
    }
    if let Some((start, end)) = lease.hash_range {
        item.insert("startingHashKey".into(), s(start.to_string()));
        item.insert("endingHashKey".into(), s(end.to_string()));
    }
    item.insert("entityType".into(), s("LEASE"));
    item
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

fn get_n(item: &Item, name: &str) -> Option<u64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

fn get_ss(item: &Item, name: &str) -> Vec<String> {
    match item.get(name) {
        Some(AttributeValue::Ss(v)) => v.clone(),
        _ => Vec::new(),
    }
}

/// A lease from an item; `None` for an item that is not a lease (KCL 3.5 keeps its
/// coordinator state in the same table) or lacks a key.
fn from_item(item: &Item) -> Option<Lease> {
    if get_s(item, "entityType").is_some_and(|t| t != "LEASE") {
        return None;
    }
    let key = get_s(item, "leaseKey")?;
    let checkpoint = get_s(item, "checkpoint")
        .and_then(|c| {
            Checkpoint::from_stored(c, get_n(item, "checkpointSubSequenceNumber").unwrap_or(0))
        })
        .unwrap_or(Checkpoint::TrimHorizon);
    let pending_checkpoint = get_s(item, "pendingCheckpoint").and_then(|c| {
        Checkpoint::from_stored(
            c,
            get_n(item, "pendingCheckpointSubSequenceNumber").unwrap_or(0),
        )
    });
    let hash_range = match (
        get_s(item, "startingHashKey").and_then(|v| v.parse().ok()),
        get_s(item, "endingHashKey").and_then(|v| v.parse().ok()),
    ) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    Some(Lease {
        key: key.to_string(),
        owner: get_s(item, "leaseOwner").map(str::to_owned),
        counter: get_n(item, "leaseCounter").unwrap_or(0),
        checkpoint,
        owner_switches_since_checkpoint: get_n(item, "ownerSwitchesSinceCheckpoint").unwrap_or(0),
        parents: get_ss(item, "parentShardId"),
        children: get_ss(item, "childShardIds"),
        hash_range,
        pending_checkpoint,
        checkpoint_owner: get_s(item, "checkpointOwner").map(str::to_owned),
    })
}

impl DynamoDbStore {
    /// The lease table `table` (the KCL names it after the application).
    pub fn new(client: Client, table: impl Into<String>) -> DynamoDbStore {
        DynamoDbStore {
            client,
            table: table.into(),
        }
    }

    /// An UpdateItem on `key`, conditional on `leaseCounter = counter`, setting it one higher.
    fn counted_update(
        &self,
        key: &str,
        counter: u64,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("leaseKey", s(key))
            .condition_expression("leaseCounter = :counter")
            .expression_attribute_values(":counter", n(counter))
            .expression_attribute_values(":next", n(counter + 1))
    }

    async fn send_conditional(
        what: &str,
        call: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
    ) -> Conditional {
        match call.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(condition_failed) => Ok(false),
            Err(e) => Err(error(what, &e)),
        }
    }
}

impl LeaseStore for DynamoDbStore {
    async fn prepare(&self) -> Result<(), StoreError> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await;
        let exists = match described {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                false
            }
            Err(e) => return Err(error("DescribeTable", &e)),
        };
        if !exists {
            let attr = |name: &str| {
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| StoreError(e.to_string()))
            };
            let key = |name: &str, kind: KeyType| {
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
                    .map_err(|e| StoreError(e.to_string()))
            };
            let index = GlobalSecondaryIndex::builder()
                .index_name(INDEX)
                .key_schema(key("leaseOwner", KeyType::Hash)?)
                .key_schema(key("leaseKey", KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .map_err(|e| StoreError(e.to_string()))?;
            let created = self
                .client
                .create_table()
                .table_name(&self.table)
                .attribute_definitions(attr("leaseKey")?)
                .attribute_definitions(attr("leaseOwner")?)
                .key_schema(key("leaseKey", KeyType::Hash)?)
                .global_secondary_indexes(index)
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await;
            if let Err(e) = created {
                // Another worker created it first.
                if !e
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception())
                {
                    return Err(error("CreateTable", &e));
                }
            }
        }
        for _ in 0..600 {
            let table = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| error("DescribeTable", &e))?;
            if table
                .table()
                .and_then(|t| t.table_status())
                .is_some_and(|s| *s == TableStatus::Active)
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError(format!(
            "table {} did not become ACTIVE",
            self.table
        )))
    }

    async fn list(&self) -> Result<Vec<Lease>, StoreError> {
        let mut leases = Vec::new();
        let mut start: Option<Item> = None;
        for _ in 0..100_000 {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| error("Scan", &e))?;
            leases.extend(page.items().iter().filter_map(from_item));
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(leases),
            }
        }
        Err(StoreError("the scan did not end".into()))
    }

    async fn get(&self, key: &str) -> Result<Option<Lease>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("leaseKey", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| error("GetItem", &e))?;
        Ok(out.item().and_then(from_item))
    }

    async fn create_if_absent(&self, lease: &Lease) -> Conditional {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(lease)))
            .condition_expression("attribute_not_exists(leaseKey)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(condition_failed) => Ok(false),
            Err(e) => Err(error("PutItem", &e)),
        }
    }

    async fn renew(&self, key: &str, counter: u64) -> Conditional {
        let call = self
            .counted_update(key, counter)
            .update_expression("SET leaseCounter = :next");
        Self::send_conditional("UpdateItem (renew)", call).await
    }

    async fn take(&self, key: &str, counter: u64, owner: &str, switch: bool) -> Conditional {
        let mut call = self
            .counted_update(key, counter)
            .expression_attribute_values(":owner", s(owner));
        call = if switch {
            call.update_expression(
                "SET leaseCounter = :next, leaseOwner = :owner, \
                 ownerSwitchesSinceCheckpoint = if_not_exists(ownerSwitchesSinceCheckpoint, :zero) + :one \
                 REMOVE checkpointOwner",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
        } else {
            call.update_expression(
                "SET leaseCounter = :next, leaseOwner = :owner REMOVE checkpointOwner",
            )
        };
        Self::send_conditional("UpdateItem (take)", call).await
    }

    async fn release(&self, key: &str, counter: u64) -> Conditional {
        let call = self
            .counted_update(key, counter)
            .update_expression("SET leaseCounter = :next REMOVE leaseOwner, checkpointOwner");
        Self::send_conditional("UpdateItem (release)", call).await
    }

    async fn checkpoint(&self, key: &str, counter: u64, checkpoint: &Checkpoint) -> Conditional {
        let call = self
            .counted_update(key, counter)
            .update_expression(
                "SET leaseCounter = :next, checkpoint = :checkpoint, \
                 checkpointSubSequenceNumber = :sub, ownerSwitchesSinceCheckpoint = :zero \
                 REMOVE pendingCheckpoint, pendingCheckpointSubSequenceNumber, pendingCheckpointState",
            )
            .expression_attribute_values(":checkpoint", s(checkpoint.as_stored()))
            .expression_attribute_values(":sub", n(checkpoint.sub()))
            .expression_attribute_values(":zero", n(0));
        Self::send_conditional("UpdateItem (checkpoint)", call).await
    }

    async fn set_children(&self, key: &str, children: &[String]) -> Conditional {
        if children.is_empty() {
            return Ok(true);
        }
        let call = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("leaseKey", s(key))
            .condition_expression("attribute_exists(leaseKey)")
            .update_expression("SET childShardIds = :children")
            .expression_attribute_values(":children", AttributeValue::Ss(children.to_vec()));
        Self::send_conditional("UpdateItem (children)", call).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("leaseKey", s(key))
            .send()
            .await
            .map_err(|e| error("DeleteItem", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_with_the_kcls_names() {
        let mut lease = Lease::new("shardId-000000000002", Checkpoint::TrimHorizon);
        lease.owner = Some("worker-1".into());
        lease.counter = 7;
        lease.parents = vec!["shardId-000000000000".into()];
        lease.hash_range = Some((0, u128::MAX));
        let item = to_item(&lease);
        for name in [
            "leaseKey",
            "leaseOwner",
            "leaseCounter",
            "checkpoint",
            "checkpointSubSequenceNumber",
            "ownerSwitchesSinceCheckpoint",
            "parentShardId",
            "startingHashKey",
            "endingHashKey",
        ] {
            assert!(item.contains_key(name), "{name} missing");
        }
        assert!(
            !item.contains_key("childShardIds"),
            "empty sets are left out"
        );
        assert_eq!(item["checkpoint"], s("TRIM_HORIZON"));
        assert_eq!(item["endingHashKey"], s(u128::MAX.to_string()));
        assert_eq!(from_item(&item), Some(lease));
        let mut other = item.clone();
        other.insert("entityType".into(), s("LEADER"));
        assert_eq!(
            from_item(&other),
            None,
            "KCL 3.5's coordinator items are not leases"
        );
    }
}
