"""Tags on streams and on consumers: AddTagsToStream, RemoveTagsFromStream, ListTagsForStream, TagResource,
UntagResource, ListTagsForResource; limits and errors.

Servers run with conftest's TEST_ARGS (`--create-delay-ms 0 --delete-delay-ms 0 --limits off`), so new streams
and consumers are ACTIVE at once and throughput limits stay out of the way; tests that need otherwise pass
their own flags (a later flag wins). Every wait is bounded.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from conftest import ACCOUNT, create_stream
from support import code_of, assert_error, client_error, stream_arn, wait_until


# --- tags on streams ---------------------------------------------------------------------------------


def test_more_than_50_tags_is_an_invalid_argument(kinesis):
    create_stream(kinesis, "tags-limit", 1)
    too_many = {f"key-{i:02d}": "v" for i in range(51)}
    assert_error(
        client_error(kinesis.add_tags_to_stream, StreamName="tags-limit", Tags=too_many),
        "InvalidArgumentException",
    )
    assert kinesis.list_tags_for_stream(StreamName="tags-limit")["Tags"] == []
    fifty = {f"key-{i:02d}": "v" for i in range(50)}
    kinesis.add_tags_to_stream(StreamName="tags-limit", Tags=fifty)
    # A 51st key is refused, overwriting one of the 50 is not.
    assert_error(
        client_error(kinesis.add_tags_to_stream, StreamName="tags-limit", Tags={"one-more": "v"}),
        "InvalidArgumentException",
    )
    assert_error(
        client_error(kinesis.tag_resource, ResourceARN=stream_arn("tags-limit"), Tags={"one-more": "v"}),
        "InvalidArgumentException",
    )
    kinesis.add_tags_to_stream(StreamName="tags-limit", Tags={"key-00": "new"})
    kinesis.remove_tags_from_stream(StreamName="tags-limit", TagKeys=["key-49"])
    kinesis.add_tags_to_stream(StreamName="tags-limit", Tags={"one-more": "v"})
    tags = kinesis.list_tags_for_resource(ResourceARN=stream_arn("tags-limit"))["Tags"]
    assert len(tags) == 50
    assert {"Key": "key-00", "Value": "new"} in tags and {"Key": "one-more", "Value": "v"} in tags


def test_tag_keys_and_values_are_validated(kinesis_raw):
    create_stream(kinesis_raw, "tag-shapes", 1)
    for tags in ({"k" * 129: "v"}, {"k": "v" * 257}, {"": "v"}):
        add = client_error(kinesis_raw.add_tags_to_stream, StreamName="tag-shapes", Tags=tags)
        assert_error(add, "ValidationException")
        tag = client_error(kinesis_raw.tag_resource, ResourceARN=stream_arn("tag-shapes"), Tags=tags)
        assert_error(tag, "ValidationException")
    for limit in (0, 51):
        listed = client_error(kinesis_raw.list_tags_for_stream, StreamName="tag-shapes", Limit=limit)
        assert_error(listed, "ValidationException")
    kinesis_raw.add_tags_to_stream(StreamName="tag-shapes", Tags={"k" * 128: "v" * 256, "empty": ""})
    assert len(kinesis_raw.list_tags_for_stream(StreamName="tag-shapes")["Tags"]) == 2


def test_map_and_key_list_constraints_are_reported_whole_as_aws_reports_them(kinesis_raw):
    create_stream(kinesis_raw, "tag-maps", 1)
    long_key = "k" * 129
    add = client_error(kinesis_raw.add_tags_to_stream, StreamName="tag-maps", Tags={"a": "1", long_key: "2"})
    assert_error(
        add,
        "ValidationException",
        f"1 validation error detected: Value '{{a=1, {long_key}=2}}' at 'tags' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have "
        "length greater than or equal to 1]",
    )
    long_value = "v" * 257
    add = client_error(kinesis_raw.add_tags_to_stream, StreamName="tag-maps", Tags={"a": long_value})
    assert_error(
        add,
        "ValidationException",
        f"1 validation error detected: Value '{{a={long_value}}}' at 'tags' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have length less than or equal to 256, Member must have "
        "length greater than or equal to 0]",
    )
    # CreateStream checks its tags' keys and values the same way.
    created = client_error(kinesis_raw.create_stream, StreamName="tag-maps-2", ShardCount=1, Tags={long_key: "x"})
    assert "Map keys must satisfy constraint" in assert_error(created, "ValidationException")
    removed = client_error(kinesis_raw.remove_tags_from_stream, StreamName="tag-maps", TagKeys=["a", long_key])
    assert_error(
        removed,
        "ValidationException",
        f"1 validation error detected: Value '[a, {long_key}]' at 'tagKeys' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have "
        "length greater than or equal to 1]",
    )


INVALID_CHARACTERS = (
    "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."
)


def test_tag_characters_are_checked_as_aws_checks_them(kinesis):
    create_stream(kinesis, "tag-chars", 1)
    ok = {"ü0 _.": "ü0 _./=+-@", "/=+-@": "", "a:b": "c:d"}
    kinesis.add_tags_to_stream(StreamName="tag-chars", Tags=ok)
    assert {t["Key"] for t in kinesis.list_tags_for_stream(StreamName="tag-chars")["Tags"]} == set(ok)
    kinesis.remove_tags_from_stream(StreamName="tag-chars", TagKeys=["ü0 _.", "/=+-@"])
    for bad in (";", ",", "\t", "\n"):
        for tags in ({f"k{bad}": "v"}, {"k": f"v{bad}"}):
            assert_error(
                client_error(kinesis.add_tags_to_stream, StreamName="tag-chars", Tags=tags),
                "InvalidArgumentException",
                INVALID_CHARACTERS,
            )
            assert_error(
                client_error(kinesis.tag_resource, ResourceARN=stream_arn("tag-chars"), Tags=tags),
                "InvalidArgumentException",
                INVALID_CHARACTERS,
            )
        assert_error(
            client_error(kinesis.remove_tags_from_stream, StreamName="tag-chars", TagKeys=[f"k{bad}"]),
            "InvalidArgumentException",
            INVALID_CHARACTERS,
        )
        assert_error(
            client_error(kinesis.create_stream, StreamName="tag-chars-2", ShardCount=1, Tags={f"k{bad}": "v"}),
            "InvalidArgumentException",
            INVALID_CHARACTERS,
        )
    assert_error(
        client_error(kinesis.add_tags_to_stream, StreamName="tag-chars", Tags={"k%": "v"}),
        "InvalidArgumentException",
        f"Failed to add tags to stream tag-chars under account {ACCOUNT} because some tags contained illegal "
        "characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'.",
    )
    assert_error(
        client_error(kinesis.remove_tags_from_stream, StreamName="tag-chars", TagKeys=["k%"]),
        "InvalidArgumentException",
        f"Failed to remove tags from stream tag-chars under account {ACCOUNT} because some tags contained illegal "
        "characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'.",
    )
    # The stream is looked up first.
    assert_error(
        client_error(kinesis.add_tags_to_stream, StreamName="no-such", Tags={";": "v"}),
        "ResourceNotFoundException",
    )


def test_create_stream_with_more_than_50_tags_is_an_invalid_argument(kinesis):
    assert_error(
        client_error(kinesis.create_stream, StreamName="t51", ShardCount=1, Tags={f"k{i}": "v" for i in range(51)}),
        "InvalidArgumentException",
    )


def test_list_tags_for_stream_pages(kinesis):
    create_stream(kinesis, "tags-pages", 1)
    tags = {f"tag-{i:02d}": f"value-{i}" for i in range(25)}
    kinesis.add_tags_to_stream(StreamName="tags-pages", Tags=tags)

    pages, kwargs = [], {"StreamName": "tags-pages", "Limit": 10}
    for _ in range(10):
        page = kinesis.list_tags_for_stream(**kwargs)
        pages.append(page)
        if not page["HasMoreTags"]:
            break
        kwargs["ExclusiveStartTagKey"] = page["Tags"][-1]["Key"]
    assert [len(p["Tags"]) for p in pages] == [10, 10, 5]
    assert [p["HasMoreTags"] for p in pages] == [True, True, False]
    seen = [t["Key"] for p in pages for t in p["Tags"]]
    assert len(seen) == len(set(seen)) == 25
    assert {t["Key"]: t["Value"] for p in pages for t in p["Tags"]} == tags

    # Exactly Limit tags left: no more.
    last = kinesis.list_tags_for_stream(StreamName="tags-pages", Limit=5, ExclusiveStartTagKey=seen[19])
    assert (len(last["Tags"]), last["HasMoreTags"]) == (5, False)
    end = kinesis.list_tags_for_stream(StreamName="tags-pages", ExclusiveStartTagKey=seen[-1])
    assert (end["Tags"], end["HasMoreTags"]) == ([], False)

    # Without a Limit, following HasMoreTags still gives every tag once.
    everything, kwargs = [], {"StreamName": "tags-pages"}
    for _ in range(30):
        page = kinesis.list_tags_for_stream(**kwargs)
        assert page["Tags"] or not page["HasMoreTags"], page
        everything.extend(t["Key"] for t in page["Tags"])
        if not page["HasMoreTags"]:
            break
        kwargs["ExclusiveStartTagKey"] = page["Tags"][-1]["Key"]
    assert sorted(everything) == sorted(tags)


def test_add_and_remove_tags_and_tag_resource_see_the_same_tags(kinesis):
    create_stream(kinesis, "tags", 1)
    arn = stream_arn("tags")
    kinesis.add_tags_to_stream(StreamName="tags", Tags={"a": "1", "b": ""})
    kinesis.tag_resource(ResourceARN=arn, Tags={"c": "3", "a": "updated"})
    assert sorted(kinesis.list_tags_for_stream(StreamName="tags")["Tags"], key=lambda t: t["Key"]) == [
        {"Key": "a", "Value": "updated"},
        {"Key": "b", "Value": ""},
        {"Key": "c", "Value": "3"},
    ]
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["a", "not-there"])
    kinesis.remove_tags_from_stream(StreamName="tags", TagKeys=["b"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "c", "Value": "3"}]
    assert kinesis.list_tags_for_stream(StreamARN=arn)["Tags"] == [{"Key": "c", "Value": "3"}]


# --- tags on consumers ----------------------------------------------------------------------------------


def test_tag_resource_on_a_consumer_is_separate_from_the_stream(kinesis):
    create_stream(kinesis, "ctags", 1)
    arn = stream_arn("ctags")
    kinesis.add_tags_to_stream(StreamName="ctags", Tags={"stream-tag": "s"})
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c", Tags={"born": "with"})["Consumer"]
    carn = consumer["ConsumerARN"]
    assert kinesis.list_tags_for_resource(ResourceARN=carn)["Tags"] == [{"Key": "born", "Value": "with"}]

    kinesis.tag_resource(ResourceARN=carn, Tags={"team": "x", "env": "dev"})
    kinesis.untag_resource(ResourceARN=carn, TagKeys=["born"])
    assert sorted(kinesis.list_tags_for_resource(ResourceARN=carn)["Tags"], key=lambda t: t["Key"]) == [
        {"Key": "env", "Value": "dev"},
        {"Key": "team", "Value": "x"},
    ]
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "stream-tag", "Value": "s"}]
    assert kinesis.list_tags_for_stream(StreamName="ctags")["Tags"] == [{"Key": "stream-tag", "Value": "s"}]

    assert_error(
        client_error(kinesis.tag_resource, ResourceARN=carn, Tags={f"k{i}": "v" for i in range(49)}),
        "InvalidArgumentException",
    )
    assert len(kinesis.list_tags_for_resource(ResourceARN=carn)["Tags"]) == 2


def test_tagging_unknown_resources_is_resource_not_found(kinesis):
    create_stream(kinesis, "known", 1)
    unknown_consumer = stream_arn("known") + "/consumer/nobody:1700000000"
    for arn in (stream_arn("unknown"), unknown_consumer, stream_arn("unknown") + "/consumer/c:1700000000"):
        assert_error(client_error(kinesis.tag_resource, ResourceARN=arn, Tags={"a": "b"}), "ResourceNotFoundException")
        assert_error(client_error(kinesis.untag_resource, ResourceARN=arn, TagKeys=["a"]), "ResourceNotFoundException")
        assert_error(client_error(kinesis.list_tags_for_resource, ResourceARN=arn), "ResourceNotFoundException")


def test_a_deregistered_consumer_has_no_tags(kinesis):
    create_stream(kinesis, "ctags-gone", 1)
    carn = kinesis.register_stream_consumer(StreamARN=stream_arn("ctags-gone"), ConsumerName="c", Tags={"a": "b"})[
        "Consumer"
    ]["ConsumerARN"]
    kinesis.deregister_stream_consumer(ConsumerARN=carn)
    wait_until(
        lambda: code_of(lambda: kinesis.describe_stream_consumer(ConsumerARN=carn)) == "ResourceNotFoundException",
        "consumer gone",
    )
    assert_error(client_error(kinesis.list_tags_for_resource, ResourceARN=carn), "ResourceNotFoundException")
    # A new consumer of the same name starts without the old one's tags.
    new = kinesis.register_stream_consumer(StreamARN=stream_arn("ctags-gone"), ConsumerName="c")["Consumer"]
    assert kinesis.list_tags_for_resource(ResourceARN=new["ConsumerARN"])["Tags"] == []


def test_register_consumer_with_more_than_50_tags_is_an_invalid_argument(kinesis):
    create_stream(kinesis, "c51", 1)
    assert_error(
        client_error(
            kinesis.register_stream_consumer,
            StreamARN=stream_arn("c51"),
            ConsumerName="c51",
            Tags={f"k{i}": "v" for i in range(51)},
        ),
        "InvalidArgumentException",
    )

