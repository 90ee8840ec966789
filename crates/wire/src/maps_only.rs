//! Structure members must arrive as maps. serde's derived impls also accept a sequence (read
//! positionally), which AWS refuses; members whose type is a structure, or a list of them, are
//! read through these functions instead.
//!
//! The derived impl still runs, over `MapAccessDeserializer`; field values are deserialized by
//! the codec's own deserializer, so blob and timestamp encodings are unaffected.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

struct MapOnly<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for MapOnly<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for MapOnly<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_map(self)
    }
}

/// An optional structure member.
pub fn optional<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct OptionVisitor<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for OptionVisitor<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("struct or null")
        }
        fn visit_none<E>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            d.deserialize_map(MapOnly(PhantomData)).map(Some)
        }
    }
    d.deserialize_option(OptionVisitor(PhantomData))
}

/// An optional list of structures.
pub fn optional_list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ListVisitor<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(item) = seq.next_element_seed(MapOnly(PhantomData))? {
                out.push(item);
            }
            Ok(out)
        }
    }
    struct OptionVisitor<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for OptionVisitor<T> {
        type Value = Option<Vec<T>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a sequence or null")
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(ListVisitor(PhantomData)).map(Some)
        }
    }
    d.deserialize_option(OptionVisitor(PhantomData))
}

#[cfg(test)]
mod tests {
    use crate::shapes::{CreateStreamInput, PutRecordsInput};
    use crate::{json, ErrorCode};

    #[test]
    fn nested_structures_must_be_maps() {
        let ok: PutRecordsInput =
            json::decode(br#"{"StreamName":"s","Records":[{"Data":"eA==","PartitionKey":"k"}]}"#)
                .unwrap();
        assert_eq!(ok.records.unwrap()[0].partition_key.as_deref(), Some("k"));
        let err = json::decode::<PutRecordsInput>(
            br#"{"StreamName":"s","Records":[["eA==",null,"pk"]]}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::Serialization);
        assert_eq!(
            err.message.as_deref(),
            Some("Start of list found where not expected")
        );
        let err = json::decode::<CreateStreamInput>(
            br#"{"StreamName":"s","StreamModeDetails":["ON_DEMAND"]}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::Serialization);
        let none: CreateStreamInput =
            json::decode(br#"{"StreamName":"s","StreamModeDetails":null}"#).unwrap();
        assert!(none.stream_mode_details.is_none());
    }
}
