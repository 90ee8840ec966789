"""The CloudWatch metric API on shardline's port: GetMetricStatistics, GetMetricData, ListMetrics and
PutMetricData through boto3 in each of the three protocols CloudWatch's model offers (JSON 1.0, which botocore
picks, smithy rpc-v2 CBOR and the query protocol, forced by giving the client a model that lists only that
one), and through the AWS CLI. Statistics are checked against what was put: Kinesis records put through the
Kinesis API show up in AWS/Kinesis, values published with PutMetricData in their own namespace."""

from __future__ import annotations

import copy
import datetime as dt
import time
from typing import Callable

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, create_stream, run_aws
from test_sigv4 import auth_endpoint  # noqa: F401 (a fixture)

PROTOCOLS = ["json", "smithy-rpc-v2-cbor", "query"]
UTC = dt.timezone.utc


def cloudwatch(endpoint: str, protocol: str | None = None, key: tuple[str, str] = ("AKIDEXAMPLE", "secret")):
    """A boto3 CloudWatch client; with `protocol`, one whose model offers only that protocol."""
    session = botocore.session.get_session()
    if protocol is not None:
        loader = session.get_component("data_loader")
        model = copy.deepcopy(loader.load_service_model("cloudwatch", "service-2"))
        model["metadata"]["protocols"] = [protocol]
        model["metadata"]["protocol"] = protocol
        original = loader.load_service_model

        def load(service_name, type_name, api_version=None):
            if service_name == "cloudwatch" and type_name == "service-2":
                return model
            return original(service_name, type_name, api_version)

        loader.load_service_model = load
    client = boto3.session.Session(botocore_session=session).client(
        "cloudwatch",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )
    if protocol is not None:
        assert client.meta.service_model.resolved_protocol == protocol
    return client


def error_of(call: Callable, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    e = info.value.response["Error"]
    return e["Code"], e["Message"]


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def wait_sum(cw, namespace: str, name: str, dims: list[dict], want: float, timeout_s: float = 10.0) -> list[dict]:
    """GetMetricStatistics over the last 10 minutes until the Sums add up to `want` (samples land at once;
    the wait covers a minute boundary between put and query)."""
    deadline = time.monotonic() + timeout_s
    while True:
        t = now()
        points = cw.get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=dims,
            StartTime=t - dt.timedelta(minutes=10),
            EndTime=t + dt.timedelta(minutes=1),
            Period=60,
            Statistics=["Sum", "SampleCount", "Minimum", "Maximum", "Average"],
        )["Datapoints"]
        if sum(p["Sum"] for p in points) == want or time.monotonic() > deadline:
            return points
        time.sleep(0.1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_kinesis_metrics_match_what_was_put_and_read(endpoint: str, kinesis, protocol: str) -> None:
    cw = cloudwatch(endpoint, protocol)
    create_stream(kinesis, "cw", 2)
    sizes = [10, 20, 30, 40, 50]
    for i, size in enumerate(sizes):
        kinesis.put_records(
            StreamName="cw",
            Records=[{"Data": b"x" * size, "PartitionKey": f"k{i}-{j}"} for j in range(10)],
        )
    dims = [{"Name": "StreamName", "Value": "cw"}]
    points = wait_sum(cw, "AWS/Kinesis", "IncomingRecords", dims, 50)
    assert sum(p["Sum"] for p in points) == 50
    assert all(p["Unit"] == "Count" for p in points)
    # One sample per shard written by each call: SampleCount between 5 (one shard each) and 10.
    assert 5 <= sum(p["SampleCount"] for p in points) <= 10
    assert max(p["Maximum"] for p in points) <= 10
    # Bytes put count the data and the partition key, as the throughput limits do.
    put_bytes = sum(size + len(f"k{i}-{j}") for i, size in enumerate(sizes) for j in range(10))
    bytes_points = wait_sum(cw, "AWS/Kinesis", "IncomingBytes", dims, put_bytes)
    assert sum(p["Sum"] for p in bytes_points) == put_bytes
    assert {p["Unit"] for p in bytes_points} == {"Bytes"}

    # Read everything back: GetRecords.Records adds up to what was read.
    read = 0
    for shard in kinesis.list_shards(StreamName="cw")["Shards"]:
        it = kinesis.get_shard_iterator(StreamName="cw", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        read += len(kinesis.get_records(ShardIterator=it)["Records"])
    assert read == 50
    got = wait_sum(cw, "AWS/Kinesis", "GetRecords.Records", dims, 50)
    assert sum(p["Sum"] for p in got) == 50

    # Only the stream's own dimension set matches: no dimensions is another metric.
    t = now()
    assert (
        cw.get_metric_statistics(
            Namespace="AWS/Kinesis",
            MetricName="IncomingRecords",
            StartTime=t - dt.timedelta(minutes=10),
            EndTime=t + dt.timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        == []
    )
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/Kinesis", Dimensions=[{"Name": "StreamName", "Value": "cw"}])["Metrics"]}
    assert {"IncomingRecords", "IncomingBytes", "GetRecords.Records", "PutRecords.Latency"} <= names


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_put_metric_data_statistics_periods_and_bounds(endpoint: str, protocol: str) -> None:
    cw = cloudwatch(endpoint, protocol)
    base = now().replace(second=0, microsecond=0) - dt.timedelta(minutes=30)
    dims = [{"Name": "Host", "Value": "h1"}, {"Name": "App", "Value": "a"}]
    cw.put_metric_data(
        Namespace="Shop",
        MetricData=[
            # Minute 0: values 1, 2, 3 (Values with Counts: 2 counted twice).
            {"MetricName": "Latency", "Dimensions": dims, "Timestamp": base, "Value": 1, "Unit": "Milliseconds"},
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "Timestamp": base + dt.timedelta(seconds=20),
                "Values": [2, 3],
                "Counts": [2, 1],
                "Unit": "Milliseconds",
            },
            # Minute 2: a statistic set.
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "Timestamp": base + dt.timedelta(minutes=2, seconds=5),
                "StatisticValues": {"SampleCount": 4, "Sum": 40, "Minimum": 5, "Maximum": 15},
                "Unit": "Milliseconds",
            },
            # Minute 7.
            {"MetricName": "Latency", "Dimensions": dims, "Timestamp": base + dt.timedelta(minutes=7), "Value": 100, "Unit": "Milliseconds"},
        ],
    )
    # Dimensions are matched whatever their order.
    reversed_dims = list(reversed(dims))
    stats = ["SampleCount", "Sum", "Minimum", "Maximum", "Average"]

    def query(start, end, period, **extra):
        return sorted(
            cw.get_metric_statistics(
                Namespace="Shop",
                MetricName="Latency",
                Dimensions=reversed_dims,
                StartTime=start,
                EndTime=end,
                Period=period,
                Statistics=stats,
                **extra,
            )["Datapoints"],
            key=lambda p: p["Timestamp"],
        )

    per_minute = query(base, base + dt.timedelta(minutes=10), 60)
    assert [(p["Timestamp"] - base).total_seconds() for p in per_minute] == [0, 120, 420]
    first = per_minute[0]
    assert (first["SampleCount"], first["Sum"], first["Minimum"], first["Maximum"]) == (4, 8, 1, 3)
    assert first["Average"] == 2
    assert first["Unit"] == "Milliseconds"
    assert (per_minute[1]["SampleCount"], per_minute[1]["Sum"], per_minute[1]["Minimum"], per_minute[1]["Maximum"]) == (4, 40, 5, 15)
    # A five-minute period folds the first two minutes together.
    five = query(base, base + dt.timedelta(minutes=10), 300)
    assert [(p["Timestamp"] - base).total_seconds() for p in five] == [0, 300]
    assert (five[0]["SampleCount"], five[0]["Sum"], five[0]["Minimum"], five[0]["Maximum"]) == (8, 48, 1, 15)
    assert five[1]["Sum"] == 100
    # Time bounds: [start, end) — minute 7 is left out by an end at minute 7, minute 0 by a start at minute 1.
    bounded = query(base + dt.timedelta(minutes=1), base + dt.timedelta(minutes=7), 60)
    assert [(p["Timestamp"] - base).total_seconds() for p in bounded] == [120]
    # Only some statistics: only those come back.
    only = cw.get_metric_statistics(
        Namespace="Shop", MetricName="Latency", Dimensions=dims, StartTime=base,
        EndTime=base + dt.timedelta(minutes=1), Period=60, Statistics=["Maximum"],
    )["Datapoints"]
    assert len(only) == 1 and "Sum" not in only[0] and only[0]["Maximum"] == 3
    # A unit the data is not in matches nothing.
    assert query(base, base + dt.timedelta(minutes=10), 60, Unit="Bytes") == []
    # Unknown metric, or a subset of the dimensions: no datapoints, no error.
    for name, d in (("Nope", dims), ("Latency", dims[:1])):
        assert cw.get_metric_statistics(
            Namespace="Shop", MetricName=name, Dimensions=d, StartTime=base,
            EndTime=base + dt.timedelta(minutes=10), Period=60, Statistics=["Sum"],
        )["Datapoints"] == []

    # GetMetricData: two queries, newest first by default, ascending on request, labels.
    q = [
        {"Id": "sum", "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Latency", "Dimensions": dims}, "Period": 60, "Stat": "Sum"}},
        {"Id": "mx", "Label": "peak", "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Latency", "Dimensions": dims}, "Period": 300, "Stat": "Maximum"}},
        {"Id": "hidden", "ReturnData": False, "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Latency", "Dimensions": dims}, "Period": 60, "Stat": "Average"}},
    ]
    data = cw.get_metric_data(MetricDataQueries=q, StartTime=base, EndTime=base + dt.timedelta(minutes=10))
    results = {r["Id"]: r for r in data["MetricDataResults"]}
    assert set(results) == {"sum", "mx"}
    assert results["sum"]["Values"] == [100, 40, 8]
    assert [(t - base).total_seconds() for t in results["sum"]["Timestamps"]] == [420, 120, 0]
    assert results["sum"]["Label"] == "Latency" and results["sum"]["StatusCode"] == "Complete"
    assert results["mx"]["Label"] == "peak" and results["mx"]["Values"] == [100, 15]
    asc = cw.get_metric_data(MetricDataQueries=q[:1], StartTime=base, EndTime=base + dt.timedelta(minutes=10), ScanBy="TimestampAscending")
    assert asc["MetricDataResults"][0]["Values"] == [8, 40, 100]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_one_second_periods_and_list_metrics(endpoint: str, protocol: str) -> None:
    cw = cloudwatch(endpoint, protocol)
    t0 = now().replace(microsecond=0) - dt.timedelta(seconds=30)
    cw.put_metric_data(
        Namespace="Fine",
        MetricData=[
            {"MetricName": "Hits", "Timestamp": t0 + dt.timedelta(seconds=s), "Value": s, "StorageResolution": 1}
            for s in (0, 0, 1, 5)
        ]
        + [{"MetricName": "Misses", "Dimensions": [{"Name": "Zone", "Value": "z"}], "Value": 1}],
    )
    data = cw.get_metric_data(
        MetricDataQueries=[{"Id": "h", "MetricStat": {"Metric": {"Namespace": "Fine", "MetricName": "Hits"}, "Period": 1, "Stat": "SampleCount"}}],
        StartTime=t0,
        EndTime=t0 + dt.timedelta(seconds=10),
        ScanBy="TimestampAscending",
    )["MetricDataResults"][0]
    assert [(t - t0).total_seconds() for t in data["Timestamps"]] == [0, 1, 5]
    assert data["Values"] == [2, 1, 1]
    listed = cw.list_metrics(Namespace="Fine")["Metrics"]
    assert sorted((m["MetricName"], len(m["Dimensions"])) for m in listed) == [("Hits", 0), ("Misses", 1)]
    assert [m["MetricName"] for m in cw.list_metrics(Namespace="Fine", Dimensions=[{"Name": "Zone"}])["Metrics"]] == ["Misses"]
    assert cw.list_metrics(Namespace="Fine", Dimensions=[{"Name": "Zone", "Value": "other"}])["Metrics"] == []
    assert len(cw.list_metrics(Namespace="Fine", RecentlyActive="PT3H")["Metrics"]) == 2
    assert cw.list_metrics(Namespace="Elsewhere")["Metrics"] == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_errors_as_cloudwatch_sends_them(endpoint: str, protocol: str) -> None:
    cw = cloudwatch(endpoint, protocol)
    t = now()
    ok = {"MetricName": "m", "Value": 1}
    cases = [
        (cw.put_metric_data, {"Namespace": "AWS/Kinesis", "MetricData": [ok]}, "InvalidParameterValue", "The value AWS/Kinesis for parameter Namespace is invalid."),
        (
            cw.put_metric_data,
            {"Namespace": "N", "MetricData": [ok, {"MetricName": "m", "Value": 1, "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}]},
            "InvalidParameterCombination",
            "The parameters MetricData.member.2.Value and MetricData.member.2.StatisticValues are mutually exclusive and you have specified both.",
        ),
        (
            cw.put_metric_data,
            {"Namespace": "N", "MetricData": [{"MetricName": "m", "Values": [1, 2], "Counts": [1]}]},
            "InvalidParameterValue",
            "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size.",
        ),
        (
            cw.put_metric_data,
            {"Namespace": "N", "MetricData": [{"MetricName": "m", "Value": 1, "Timestamp": t - dt.timedelta(days=15)}]},
            "InvalidParameterValue",
            "The parameter MetricData.member.1.Timestamp must specify a time no more than two weeks in the past.",
        ),
        (
            cw.get_metric_statistics,
            {"Namespace": "N", "MetricName": "m", "StartTime": t - dt.timedelta(hours=1), "EndTime": t, "Period": 60},
            "InvalidParameterCombination",
            "Must specify either Statistics or ExtendedStatistics",
        ),
        (
            cw.get_metric_statistics,
            {"Namespace": "N", "MetricName": "m", "StartTime": t, "EndTime": t - dt.timedelta(hours=1), "Period": 60, "Statistics": ["Sum"]},
            "InvalidParameterValue",
            "The parameter StartTime must be less than the parameter EndTime.",
        ),
        (
            cw.get_metric_statistics,
            {"Namespace": "N", "MetricName": "m", "StartTime": t - dt.timedelta(hours=1), "EndTime": t, "Period": 90, "Statistics": ["Sum"]},
            "InvalidParameterValue",
            "The parameter Period must be 1, 5, 10, 30, or a multiple of 60.",
        ),
        (
            cw.get_metric_statistics,
            {"Namespace": "N", "MetricName": "m", "StartTime": t - dt.timedelta(days=1), "EndTime": t, "Period": 1, "Statistics": ["Sum"]},
            "InvalidParameterCombination",
            "You have requested up to 86400 datapoints, which exceeds the limit of 1440. You may reduce the datapoints "
            "requested by increasing Period, or decreasing the time range.",
        ),
        (
            cw.get_metric_data,
            {"MetricDataQueries": [{"Id": "a", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}}], "StartTime": t, "EndTime": t - dt.timedelta(hours=1)},
            "ValidationError",
            "The parameter EndTime must be greater than StartTime.",
        ),
    ]
    for call, kwargs, code, message in cases:
        assert error_of(call, **kwargs) == (code, message), kwargs
    # Exceptions map onto the model's classes.
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.put_metric_data(Namespace="AWS/X", MetricData=[ok])
    with pytest.raises(cw.exceptions.InvalidParameterCombinationException):
        cw.get_metric_statistics(Namespace="N", MetricName="m", StartTime=t - dt.timedelta(hours=1), EndTime=t, Period=60)


def test_the_aws_cli_reads_and_publishes(endpoint: str, kinesis) -> None:
    create_stream(kinesis, "cli", 1)
    kinesis.put_record(StreamName="cli", Data=b"hello", PartitionKey="p")
    t = now()
    run_aws(endpoint, "cloudwatch", "put-metric-data", "--namespace", "Agent", "--metric-name", "Sent", "--value", "7", "--unit", "Count")
    start, end = (t - dt.timedelta(minutes=5)).isoformat(), (t + dt.timedelta(minutes=2)).isoformat()
    out = run_aws(
        endpoint, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Kinesis", "--metric-name", "IncomingBytes",
        "--dimensions", "Name=StreamName,Value=cli", "--start-time", start, "--end-time", end, "--period", "60",
        "--statistics", "Sum",
    )
    assert out["Label"] == "IncomingBytes"
    assert sum(p["Sum"] for p in out["Datapoints"]) == 6  # 5 bytes of data, 1 of key
    out = run_aws(
        endpoint, "cloudwatch", "get-metric-statistics", "--namespace", "Agent", "--metric-name", "Sent",
        "--start-time", start, "--end-time", end, "--period", "300", "--statistics", "Maximum", "SampleCount",
    )
    assert [(p["Maximum"], p["SampleCount"]) for p in out["Datapoints"]] == [(7, 1)]
    listed = run_aws(endpoint, "cloudwatch", "list-metrics", "--namespace", "Agent")
    assert [m["MetricName"] for m in listed["Metrics"]] == ["Sent"]


def test_enhanced_monitoring_adds_shard_series(endpoint: str, kinesis) -> None:
    cw = cloudwatch(endpoint)
    create_stream(kinesis, "em", 2)
    kinesis.enable_enhanced_monitoring(StreamName="em", ShardLevelMetrics=["IncomingRecords"])
    shards = [s["ShardId"] for s in kinesis.list_shards(StreamName="em")["Shards"]]
    for shard_hash, n in ((0, 3), (2**127 + 1, 4)):
        for i in range(n):
            kinesis.put_record(StreamName="em", Data=b"d", PartitionKey="p", ExplicitHashKey=str(shard_hash))
    for shard, n in zip(shards, (3, 4)):
        dims = [{"Name": "StreamName", "Value": "em"}, {"Name": "ShardId", "Value": shard}]
        points = wait_sum(cw, "AWS/Kinesis", "IncomingRecords", dims, n)
        assert sum(p["Sum"] for p in points) == n, shard
    listed = cw.list_metrics(Namespace="AWS/Kinesis", MetricName="IncomingRecords", Dimensions=[{"Name": "ShardId"}])["Metrics"]
    assert sorted(d["Value"] for m in listed for d in m["Dimensions"] if d["Name"] == "ShardId") == sorted(shards)


def test_metrics_put_show_on_prometheus_endpoint(endpoint: str) -> None:
    import urllib.request

    cloudwatch(endpoint).put_metric_data(
        Namespace="KinesisProducerLibrary",
        MetricData=[{"MetricName": "UserRecordsPut", "Dimensions": [{"Name": "StreamName", "Value": "s"}], "Value": 42}],
    )
    with urllib.request.urlopen(f"{endpoint}/metrics", timeout=10) as r:
        text = r.read().decode()
    line = next(l for l in text.splitlines() if l.startswith("UserRecordsPut{"))
    assert 'Namespace="KinesisProducerLibrary"' in line and 'StreamName="s"' in line and line.endswith(" 42")




@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_signed_requests_and_accounts(auth_endpoint: str, protocol: str) -> None:
    endpoint = auth_endpoint
    a = cloudwatch(endpoint, protocol, ("AKIDA", "secretA"))
    b = cloudwatch(endpoint, protocol, ("AKIDB", "secretB"))
    a.put_metric_data(Namespace="Mine", MetricData=[{"MetricName": "m", "Value": 1}])
    assert [m["MetricName"] for m in a.list_metrics(Namespace="Mine")["Metrics"]] == ["m"]
    # Another account sees none of it.
    assert b.list_metrics(Namespace="Mine")["Metrics"] == []
    wrong = cloudwatch(endpoint, protocol, ("AKIDA", "not-the-secret"))
    code, message = error_of(wrong.list_metrics)
    assert code in ("InvalidSignatureException", "SignatureDoesNotMatch"), (code, message)
    assert "signature we calculated does not match" in message
    unknown = cloudwatch(endpoint, protocol, ("AKIDX", "x"))
    code, message = error_of(unknown.list_metrics)
    assert code in ("UnrecognizedClientException", "InvalidClientTokenId"), (code, message)
    assert message == "The security token included in the request is invalid."
