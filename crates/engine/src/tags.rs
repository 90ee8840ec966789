//! Tags on streams and consumers: AddTagsToStream, RemoveTagsFromStream, ListTagsForStream,
//! TagResource, UntagResource, ListTagsForResource.

use std::collections::BTreeMap;

use shardline_wire::shapes::*;
use shardline_wire::{ApiError, ErrorCode};

use crate::catalog::StreamRef;
use crate::error::Result;
use crate::resolve::{parse_consumer_arn, parse_stream_arn};
use crate::{Caller, Engine};

/// Tags a stream or consumer may carry (AWS: 50).
const MAX_TAGS: usize = 50;
const LIST_TAGS_DEFAULT: usize = 10;

/// What a ResourceARN names: a stream, or a consumer of one.
enum Resource {
    Stream(StreamRef),
    Consumer(StreamRef, String),
    /// A queue (by id) of a stream.
    Queue(StreamRef, String),
    /// A channel (by id) of a stream.
    Channel(StreamRef, String),
}

impl Engine {
    pub fn add_tags_to_stream(
        &self,
        caller: &Caller,
        input: AddTagsToStreamInput,
    ) -> Result<Empty> {
        let (n, stream) = self.find_stream(caller, &input)?;
        let mut s = stream.write();
        merge_tags(
            &mut s.meta.tags,
            input.tags.unwrap_or_default(),
            &format!("stream {} under account {}", n.name, n.account),
        )?;
        drop(s);
        self.persist()?;
        Ok(Empty {})
    }

    pub fn remove_tags_from_stream(
        &self,
        caller: &Caller,
        input: RemoveTagsFromStreamInput,
    ) -> Result<Empty> {
        let (n, stream) = self.find_stream(caller, &input)?;
        let keys = input.tag_keys.unwrap_or_default();
        check_characters(
            keys.iter().map(String::as_str),
            false,
            &format!("stream {} under account {}", n.name, n.account),
        )?;
        let mut s = stream.write();
        for k in keys {
            s.meta.tags.remove(&k);
        }
        drop(s);
        self.persist()?;
        Ok(Empty {})
    }

    pub fn list_tags_for_stream(
        &self,
        caller: &Caller,
        input: ListTagsForStreamInput,
    ) -> Result<ListTagsForStreamOutput> {
        let (_, stream) = self.find_stream(caller, &input)?;
        let s = stream.read();
        let limit = input.limit.map_or(LIST_TAGS_DEFAULT, |l| l as usize);
        let after = input.exclusive_start_tag_key.as_deref();
        let rest: Vec<Tag> = s
            .meta
            .tags
            .iter()
            .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
            .map(|(k, v)| Tag {
                key: k.clone(),
                value: Some(v.clone()),
            })
            .collect();
        Ok(ListTagsForStreamOutput {
            has_more_tags: rest.len() > limit,
            tags: rest.into_iter().take(limit).collect(),
        })
    }

    pub fn tag_resource(&self, caller: &Caller, input: TagResourceInput) -> Result<Empty> {
        let arn = input.resource_arn.unwrap_or_default();
        let tags = input.tags.unwrap_or_default();
        let what = format!("resource {arn}");
        match self.resource(caller, &arn)? {
            Resource::Stream(stream) => merge_tags(&mut stream.write().meta.tags, tags, &what)?,
            Resource::Consumer(stream, name) => {
                let mut s = stream.write();
                let c = s
                    .meta
                    .consumers
                    .iter_mut()
                    .find(|c| c.name == name)
                    .ok_or_else(|| not_found(&arn))?;
                merge_tags(&mut c.tags, tags, &what)?;
            }
            Resource::Queue(stream, id) => {
                let mut s = stream.write();
                let q = s
                    .meta
                    .queues
                    .iter_mut()
                    .find(|q| q.id == id)
                    .ok_or_else(|| not_found(&arn))?;
                merge_tags(&mut q.tags, tags, &what)?;
            }
            Resource::Channel(stream, id) => {
                let mut s = stream.write();
                let c = s
                    .meta
                    .channels
                    .iter_mut()
                    .find(|c| c.id == id)
                    .ok_or_else(|| not_found(&arn))?;
                merge_tags(&mut c.tags, tags, &what)?;
            }
        }
        self.persist()?;
        Ok(Empty {})
    }

    pub fn untag_resource(&self, caller: &Caller, input: UntagResourceInput) -> Result<Empty> {
        let arn = input.resource_arn.unwrap_or_default();
        let keys = input.tag_keys.unwrap_or_default();
        let resource = self.resource(caller, &arn)?;
        check_characters(
            keys.iter().map(String::as_str),
            false,
            &format!("resource {arn}"),
        )?;
        match resource {
            Resource::Stream(stream) => {
                let mut s = stream.write();
                keys.iter().for_each(|k| {
                    s.meta.tags.remove(k);
                });
            }
            Resource::Consumer(stream, name) => {
                let mut s = stream.write();
                if let Some(c) = s.meta.consumers.iter_mut().find(|c| c.name == name) {
                    keys.iter().for_each(|k| {
                        c.tags.remove(k);
                    });
                }
            }
            Resource::Queue(stream, id) => {
                let mut s = stream.write();
                if let Some(q) = s.meta.queues.iter_mut().find(|q| q.id == id) {
                    keys.iter().for_each(|k| {
                        q.tags.remove(k);
                    });
                }
            }
            Resource::Channel(stream, id) => {
                let mut s = stream.write();
                if let Some(c) = s.meta.channels.iter_mut().find(|c| c.id == id) {
                    keys.iter().for_each(|k| {
                        c.tags.remove(k);
                    });
                }
            }
        }
        self.persist()?;
        Ok(Empty {})
    }

    pub fn list_tags_for_resource(
        &self,
        caller: &Caller,
        input: ListTagsForResourceInput,
    ) -> Result<ListTagsForResourceOutput> {
        let arn = input.resource_arn.unwrap_or_default();
        let tags = match self.resource(caller, &arn)? {
            Resource::Stream(stream) => stream.read().meta.tags.clone(),
            Resource::Consumer(stream, name) => stream
                .read()
                .meta
                .consumers
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.tags.clone())
                .ok_or_else(|| not_found(&arn))?,
            Resource::Queue(stream, id) => stream
                .read()
                .meta
                .queues
                .iter()
                .find(|q| q.id == id)
                .map(|q| q.tags.clone())
                .ok_or_else(|| not_found(&arn))?,
            Resource::Channel(stream, id) => stream
                .read()
                .meta
                .channels
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.tags.clone())
                .ok_or_else(|| not_found(&arn))?,
        };
        Ok(ListTagsForResourceOutput {
            tags: tags
                .into_iter()
                .map(|(key, value)| Tag {
                    key,
                    value: Some(value),
                })
                .collect(),
        })
    }

    fn resource(&self, caller: &Caller, arn: &str) -> Result<Resource> {
        if arn.contains(":channel/") {
            let (stream, c) = self.find_channel(caller, arn).map_err(|_| not_found(arn))?;
            if c.deleted_at_ms.is_some() {
                return Err(not_found(arn).into());
            }
            return Ok(Resource::Channel(stream, c.id));
        }
        if arn.contains(":queue/") {
            let (stream, q) = self.find_queue(caller, arn).map_err(|_| not_found(arn))?;
            if q.deleted_at_ms.is_some() {
                return Err(not_found(arn).into());
            }
            return Ok(Resource::Queue(stream, q.id));
        }
        let (stream_arn, consumer) = match parse_consumer_arn(arn) {
            Some((stream_arn, name, _)) => (stream_arn.to_string(), Some(name.to_string())),
            None => (arn.to_string(), None),
        };
        let (account, name) = parse_stream_arn(&stream_arn).ok_or_else(|| not_found(arn))?;
        if account != caller.account_id {
            self.authorize_cross_account(caller, account, name)?;
        }
        let stream = self
            .catalog
            .get(account, name)
            .ok_or_else(|| not_found(arn))?;
        Ok(match consumer {
            None => Resource::Stream(stream),
            Some(c) => {
                if !stream
                    .read()
                    .meta
                    .consumers
                    .iter()
                    .any(|x| x.name == c && x.deleted_at_ms.is_none())
                {
                    return Err(not_found(arn).into());
                }
                Resource::Consumer(stream, c)
            }
        })
    }
}

fn not_found(arn: &str) -> ApiError {
    ApiError::resource_not_found(format!("Resource {arn} not found."))
}

/// Whether a tag key or value holds only what AWS accepts: Unicode letters and digits, white
/// space (not tabs or line breaks), and `_ . : / = + - @ %` (`%` is refused later, by a second
/// rule with a message of its own; `:` is accepted although one of AWS's texts omits it).
fn allowed_characters(text: &str) -> bool {
    text.chars().all(|c| {
        c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@%".contains(c)
    })
}

/// AWS's two character checks of tag keys (and values), in AWS's order: characters outside
/// the allowed set, then `%`. `adding` picks "add tags to" or "remove tags from" for `what`.
pub(crate) fn check_characters<'a>(
    texts: impl IntoIterator<Item = &'a str> + Clone,
    adding: bool,
    what: &str,
) -> Result<()> {
    if !texts.clone().into_iter().all(allowed_characters) {
        return Err(ApiError::invalid_argument(
            "Some tags contain invalid characters. Valid characters: Unicode letters, digits, \
             white space, _ . / = + - % @.",
        )
        .into());
    }
    if texts.into_iter().any(|t| t.contains('%')) {
        let action = if adding {
            "add tags to"
        } else {
            "remove tags from"
        };
        return Err(ApiError::invalid_argument(format!(
            "Failed to {action} {what} because some tags contained illegal characters. The \
             allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'."
        ))
        .into());
    }
    Ok(())
}

/// Adds tags, refusing to go past AWS's limit of 50 (counting keys that already exist once).
pub(crate) fn merge_tags(
    tags: &mut BTreeMap<String, String>,
    new: BTreeMap<String, String>,
    what: &str,
) -> Result<()> {
    check_characters(
        new.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]),
        true,
        what,
    )?;
    let total = tags.len() + new.keys().filter(|k| !tags.contains_key(*k)).count();
    if total > MAX_TAGS {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            format!("Failed to add tags to {what} because a given resource cannot have more than {MAX_TAGS} tags associated with it."),
        )
        .into());
    }
    if let Some(k) = new.keys().find(|k| k.starts_with("aws:")) {
        return Err(ApiError::invalid_argument(format!(
            "Tag key {k} uses the reserved prefix aws:."
        ))
        .into());
    }
    tags.extend(new);
    Ok(())
}
