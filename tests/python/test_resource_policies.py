"""Resource policies: PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy.

Servers run with conftest's TEST_ARGS (`--create-delay-ms 0 --delete-delay-ms 0 --limits off`), so new streams
and consumers are ACTIVE at once and throughput limits stay out of the way; tests that need otherwise pass
their own flags (a later flag wins). Every wait is bounded.
"""

from __future__ import annotations

import json

from conftest import create_stream
from support import assert_error, client_error, stream_arn


# --- resource policies ------------------------------------------------------------------------------


def test_resource_policy_put_get_delete(kinesis):
    create_stream(kinesis, "policy", 1)
    arn = stream_arn("policy")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "111122223333"},
                    "Action": "kinesis:GetRecords",
                    "Resource": arn,
                }
            ],
        }
    )
    kinesis.put_resource_policy(ResourceARN=arn, Policy=policy)
    assert json.loads(kinesis.get_resource_policy(ResourceARN=arn)["Policy"]) == json.loads(policy)
    kinesis.delete_resource_policy(ResourceARN=arn)
    assert_error(client_error(kinesis.delete_resource_policy, ResourceARN=arn), "ResourceNotFoundException")
    bad = client_error(kinesis.put_resource_policy, ResourceARN=arn, Policy="not json")
    assert bad["Error"]["Code"] in {"InvalidArgumentException", "ValidationException"}, bad
    assert_error(
        client_error(kinesis.put_resource_policy, ResourceARN=stream_arn("nope"), Policy=policy),
        "ResourceNotFoundException",
    )
