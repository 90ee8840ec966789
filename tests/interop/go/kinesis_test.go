package interop

import (
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// TestEverydayFlow: create, wait, put, read, list with filters, reshard, tags, errors, delete —
// over HTTP/1.1 with the SDK's JSON protocol.
func TestEverydayFlow(t *testing.T) {
	srv := startServer(t, false, "--test-clock")
	c, rec := newClient(t, srv.http)
	stream := "go-flow"
	before := time.Now().Add(-time.Second)

	if _, err := c.CreateStream(ctx(t), &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	waiter := kinesis.NewStreamExistsWaiter(c)
	if err := waiter.Wait(ctx(t), &kinesis.DescribeStreamInput{StreamName: aws.String(stream)}, 30*time.Second); err != nil {
		t.Fatalf("StreamExists waiter: %v", err)
	}
	summary := waitActive(t, c, stream)
	if got, want := aws.ToString(summary.StreamARN), "arn:aws:kinesis:us-east-1:"+account+":stream/"+stream; got != want {
		t.Errorf("StreamARN %q, want %q", got, want)
	}
	if aws.ToInt32(summary.OpenShardCount) != 2 {
		t.Errorf("OpenShardCount %d, want 2", aws.ToInt32(summary.OpenShardCount))
	}
	if ct := summary.StreamCreationTimestamp; ct == nil || ct.Before(before.Add(-time.Minute)) || ct.After(time.Now().Add(time.Minute)) {
		t.Errorf("StreamCreationTimestamp %v is not about now", ct)
	}
	shards := listShards(t, c, stream)
	if len(shards) != 2 {
		t.Fatalf("%d shards, want 2", len(shards))
	}
	byID := map[string]types.Shard{}
	for _, s := range shards {
		byID[*s.ShardId] = s
	}

	// PutRecord and PutRecords: routed by the MD5 of the partition key, or by the explicit hash key.
	want := map[string]string{} // data -> partition key
	put, err := c.PutRecord(ctx(t), &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("alpha"), Data: []byte("first")})
	if err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	if !contains(byID[*put.ShardId], hashKeyOf("alpha")) {
		t.Errorf("alpha went to %s", *put.ShardId)
	}
	want["first"] = "alpha"
	last, err := c.PutRecord(ctx(t), &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("alpha"),
		ExplicitHashKey: aws.String(maxHashKey().String()), Data: []byte("by-hash-key")})
	if err != nil {
		t.Fatalf("PutRecord with ExplicitHashKey: %v", err)
	}
	if *last.ShardId != *shards[1].ShardId {
		t.Errorf("ExplicitHashKey 2^128-1 went to %s, want %s", *last.ShardId, *shards[1].ShardId)
	}
	want["by-hash-key"] = "alpha"
	var entries []types.PutRecordsRequestEntry
	for i := 0; i < 300; i++ {
		data := fmt.Sprintf("go-%d", i)
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("k%d", i)), Data: []byte(data)})
		want[data] = fmt.Sprintf("k%d", i)
	}
	batch, err := c.PutRecords(ctx(t), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	if aws.ToInt32(batch.FailedRecordCount) != 0 || len(batch.Records) != 300 {
		t.Fatalf("PutRecords: %d failed, %d results", aws.ToInt32(batch.FailedRecordCount), len(batch.Records))
	}
	for i, r := range batch.Records {
		if !contains(byID[*r.ShardId], hashKeyOf(*entries[i].PartitionKey)) {
			t.Errorf("%s went to %s", *entries[i].PartitionKey, *r.ShardId)
		}
	}

	// GetShardIterator + GetRecords read everything back in order.
	read := 0
	for _, s := range shards {
		it, err := c.GetShardIterator(ctx(t), &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: s.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatalf("GetShardIterator: %v", err)
		}
		iter := it.ShardIterator
		var prev *big.Int
		for n := 0; n < 50 && iter != nil; n++ {
			out, err := c.GetRecords(ctx(t), &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(50)})
			if err != nil {
				t.Fatalf("GetRecords: %v", err)
			}
			for _, r := range out.Records {
				if want[string(r.Data)] != *r.PartitionKey {
					t.Errorf("record %q has partition key %q", r.Data, *r.PartitionKey)
				}
				seq, _ := new(big.Int).SetString(*r.SequenceNumber, 10)
				if prev != nil && prev.Cmp(seq) >= 0 {
					t.Errorf("sequence numbers not increasing on %s", *s.ShardId)
				}
				prev = seq
				if at := r.ApproximateArrivalTimestamp; at == nil || at.Before(before.Add(-time.Minute)) || at.After(time.Now().Add(time.Minute)) {
					t.Errorf("ApproximateArrivalTimestamp %v is not about now", at)
				}
				read++
			}
			if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	if read != len(want) {
		t.Errorf("read %d records, want %d", read, len(want))
	}

	// UpdateShardCount, then ListShards with the filters the KCL and the KPL send.
	if _, err := c.UpdateShardCount(ctx(t), &kinesis.UpdateShardCountInput{StreamName: aws.String(stream), TargetShardCount: aws.Int32(4),
		ScalingType: types.ScalingTypeUniformScaling}); err != nil {
		t.Fatalf("UpdateShardCount: %v", err)
	}
	waitActive(t, c, stream)
	all := listShards(t, c, stream)
	var open []string
	for _, s := range all {
		if s.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, *s.ShardId)
		}
	}
	if len(open) != 4 {
		t.Fatalf("%d open shards after UpdateShardCount, want 4", len(open))
	}
	latest, err := c.ListShards(ctx(t), &kinesis.ListShardsInput{StreamName: aws.String(stream), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil {
		t.Fatalf("ListShards AT_LATEST: %v", err)
	}
	var latestIDs []string
	for _, s := range latest.Shards {
		latestIDs = append(latestIDs, *s.ShardId)
	}
	sort.Strings(open)
	sort.Strings(latestIDs)
	if !slices.Equal(open, latestIDs) {
		t.Errorf("ListShards AT_LATEST %v, want the open shards %v", latestIDs, open)
	}
	horizon, err := c.ListShards(ctx(t), &kinesis.ListShardsInput{StreamName: aws.String(stream), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeFromTrimHorizon}})
	if err != nil {
		t.Fatalf("ListShards FROM_TRIM_HORIZON: %v", err)
	}
	if len(horizon.Shards) != len(all) {
		t.Errorf("ListShards FROM_TRIM_HORIZON: %d shards, want %d", len(horizon.Shards), len(all))
	}

	// Tags.
	if _, err := c.AddTagsToStream(ctx(t), &kinesis.AddTagsToStreamInput{StreamName: aws.String(stream), Tags: map[string]string{"env": "go", "team": "x"}}); err != nil {
		t.Fatalf("AddTagsToStream: %v", err)
	}
	if _, err := c.RemoveTagsFromStream(ctx(t), &kinesis.RemoveTagsFromStreamInput{StreamName: aws.String(stream), TagKeys: []string{"team"}}); err != nil {
		t.Fatalf("RemoveTagsFromStream: %v", err)
	}
	tags, err := c.ListTagsForStream(ctx(t), &kinesis.ListTagsForStreamInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatalf("ListTagsForStream: %v", err)
	}
	if len(tags.Tags) != 1 || *tags.Tags[0].Key != "env" || *tags.Tags[0].Value != "go" {
		t.Errorf("tags %+v, want env=go", tags.Tags)
	}

	// Errors map onto the SDK's typed errors.
	_, err = c.DescribeStreamSummary(ctx(t), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("missing")})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("DescribeStreamSummary of a missing stream: %v, want ResourceNotFoundException", err)
	} else if got, want := rnf.ErrorMessage(), "Stream missing under account "+account+" not found."; got != want {
		t.Errorf("ResourceNotFoundException message %q, want %q", got, want)
	}
	_, err = c.MergeShards(ctx(t), &kinesis.MergeShardsInput{StreamName: aws.String(stream), ShardToMerge: aws.String(open[0]), AdjacentShardToMerge: aws.String(open[2])})
	var invalid *types.InvalidArgumentException
	if !errors.As(err, &invalid) {
		t.Errorf("MergeShards of non-adjacent shards: %v, want InvalidArgumentException", err)
	}
	_, err = c.CreateStream(ctx(t), &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(1)})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Errorf("CreateStream of an existing stream: %v, want ResourceInUseException", err)
	}
	_, err = c.CreateStream(ctx(t), &kinesis.CreateStreamInput{StreamName: aws.String("bad name!"), ShardCount: aws.Int32(1)})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" {
		t.Errorf("CreateStream with a bad name: %v, want ValidationException", err)
	}
	// ExpiredIteratorException: move the server's clock past the 5-minute iterator lifetime.
	it, err := c.GetShardIterator(ctx(t), &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(open[0]),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatalf("GetShardIterator: %v", err)
	}
	resp, err := http.Post(srv.http+"/_shardline/clock?advance_ms=301000", "text/plain", nil)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("advancing the test clock: %v %v", err, resp)
	}
	resp.Body.Close()
	_, err = c.GetRecords(ctx(t), &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	var expired *types.ExpiredIteratorException
	if !errors.As(err, &expired) {
		t.Errorf("GetRecords with a 301 s old iterator: %v, want ExpiredIteratorException", err)
	}

	// Delete.
	if _, err := c.DeleteStream(ctx(t), &kinesis.DeleteStreamInput{StreamName: aws.String(stream)}); err != nil {
		t.Fatalf("DeleteStream: %v", err)
	}
	gone := kinesis.NewStreamNotExistsWaiter(c)
	if err := gone.Wait(ctx(t), &kinesis.DescribeStreamInput{StreamName: aws.String(stream)}, 30*time.Second); err != nil {
		t.Fatalf("StreamNotExists waiter: %v", err)
	}
	if p := rec.proto("PutRecords"); p != "HTTP/1.1" {
		t.Errorf("PutRecords answered over %q, want HTTP/1.1 on http://", p)
	}
}
