"""Retention: IncreaseStreamRetentionPeriod and DecreaseStreamRetentionPeriod, their bounds and errors.

Servers run with conftest's TEST_ARGS (`--create-delay-ms 0 --delete-delay-ms 0 --limits off`), so new streams
and consumers are ACTIVE at once and throughput limits stay out of the way; tests that need otherwise pass
their own flags (a later flag wins). Every wait is bounded.
"""

from __future__ import annotations

import pytest

from conftest import ACCOUNT, create_stream
from support import assert_error, client_error, stream_arn, summary, wait_active


# --- retention --------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["increase_stream_retention_period", "decrease_stream_retention_period"])
@pytest.mark.parametrize("hours", [23, 1, 0, -5])
def test_retention_below_24_hours_is_too_short(kinesis_raw, operation, hours):
    create_stream(kinesis_raw, "ret-short", 1)
    assert_error(
        client_error(getattr(kinesis_raw, operation), StreamName="ret-short", RetentionPeriodHours=hours),
        "InvalidArgumentException",
        f"Minimum allowed retention period is 24 hours. Requested retention period ({hours} hours) is too short.",
    )
    assert summary(kinesis_raw, "ret-short")["RetentionPeriodHours"] == 24


@pytest.mark.parametrize("operation", ["increase_stream_retention_period", "decrease_stream_retention_period"])
@pytest.mark.parametrize("hours", [8761, 100000])
def test_retention_above_8760_hours_is_too_long(kinesis, operation, hours):
    create_stream(kinesis, "ret-long", 1)
    message = assert_error(
        client_error(getattr(kinesis, operation), StreamName="ret-long", RetentionPeriodHours=hours),
        "InvalidArgumentException",
    )
    assert "8760 hours" in message and f"({hours} hours)" in message, message
    assert summary(kinesis, "ret-long")["RetentionPeriodHours"] == 24


def test_retention_up_and_down(kinesis):
    create_stream(kinesis, "ret", 1)
    kinesis.increase_stream_retention_period(StreamName="ret", RetentionPeriodHours=8760)
    assert wait_active(kinesis, "ret")["RetentionPeriodHours"] == 8760
    kinesis.decrease_stream_retention_period(StreamName="ret", RetentionPeriodHours=48)
    assert wait_active(kinesis, "ret")["RetentionPeriodHours"] == 48
    # By StreamARN too.
    kinesis.decrease_stream_retention_period(StreamARN=stream_arn("ret"), RetentionPeriodHours=24)
    assert wait_active(kinesis, "ret")["RetentionPeriodHours"] == 24
    assert kinesis.describe_stream(StreamName="ret")["StreamDescription"]["RetentionPeriodHours"] == 24


def test_increase_to_a_lower_or_decrease_to_a_higher_retention_is_refused(kinesis):
    create_stream(kinesis, "ret-dir", 1)
    kinesis.increase_stream_retention_period(StreamName="ret-dir", RetentionPeriodHours=48)
    wait_active(kinesis, "ret-dir")
    assert_error(
        client_error(kinesis.increase_stream_retention_period, StreamName="ret-dir", RetentionPeriodHours=24),
        "InvalidArgumentException",
        "Requested retention period (24 hours) for stream ret-dir can not be shorter than existing retention "
        "period (48 hours). Use DecreaseRetentionPeriod API.",
    )
    assert_error(
        client_error(kinesis.decrease_stream_retention_period, StreamName="ret-dir", RetentionPeriodHours=72),
        "InvalidArgumentException",
        "Requested retention period (72 hours) for stream ret-dir can not be longer than existing retention "
        "period (48 hours). Use IncreaseRetentionPeriod API.",
    )
    assert summary(kinesis, "ret-dir")["RetentionPeriodHours"] == 48


def test_retention_of_an_unknown_stream(kinesis):
    assert_error(
        client_error(kinesis.increase_stream_retention_period, StreamName="nope", RetentionPeriodHours=48),
        "ResourceNotFoundException",
        f"Stream nope under account {ACCOUNT} not found.",
    )
