package interop

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TestQueuesAndAutoDistribution: the Go SDK v2 (the first SDK with queues) against shardline: an
// on-demand stream switched to AUTO record distribution, records put without partition keys, a
// queue receiving them, acknowledgements, a visibility change, redelivery after the visibility
// timeout, dead letters after MaxReceiveCount receives, a restore, and the control plane.
func TestQueuesAndAutoDistribution(t *testing.T) {
	srv := startServer(t, false)
	c, _ := newClient(t, srv.http)
	stream := "go-queues"
	if _, err := c.CreateStream(ctx(t), &kinesis.CreateStreamInput{
		StreamName:        aws.String(stream),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand},
	}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	summary := waitActive(t, c, stream)
	streamARN := aws.ToString(summary.StreamARN)
	if _, err := c.UpdateStreamRecordDistributionStrategy(ctx(t), &kinesis.UpdateStreamRecordDistributionStrategyInput{
		StreamARN:                  aws.String(streamARN),
		RecordDistributionStrategy: types.RecordDistributionStrategyAuto,
	}); err != nil {
		t.Fatalf("UpdateStreamRecordDistributionStrategy: %v", err)
	}
	if s := waitActive(t, c, stream); s.RecordDistributionStrategy != types.RecordDistributionStrategyAuto {
		t.Fatalf("RecordDistributionStrategy %q, want AUTO", s.RecordDistributionStrategy)
	}

	created, err := c.CreateQueue(ctx(t), &kinesis.CreateQueueInput{
		QueueName: aws.String("go-queue"),
		StreamConfigurationList: []types.QueueStreamConfiguration{{
			StreamARN:        aws.String(streamARN),
			StartingPosition: &types.QueueStartingPosition{Type: types.QueueStartingPositionTypeTrimHorizon},
		}},
		QueueAttributes: &types.QueueAttributes{
			VisibilityTimeoutSeconds: aws.Int32(2),
			DeadLetterConfiguration: &types.DeadLetterConfiguration{
				TargetType:      types.TargetTypeBuiltIn,
				MaxReceiveCount: aws.Int32(2),
			},
		},
	})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	queue := created.QueueDescription.QueueARN
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := c.DescribeQueue(ctx(t), &kinesis.DescribeQueueInput{QueueARN: queue})
		if err != nil {
			t.Fatalf("DescribeQueue: %v", err)
		}
		if d.QueueDescription.QueueStatus == types.QueueStatusActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue still %s", d.QueueDescription.QueueStatus)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// 30 records without partition keys (AUTO), spread over the shards.
	var entries []types.PutRecordsRequestEntry
	for i := 0; i < 30; i++ {
		entries = append(entries, types.PutRecordsRequestEntry{Data: []byte(fmt.Sprintf("q%02d", i))})
	}
	put, err := c.PutRecords(ctx(t), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil || aws.ToInt32(put.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords without partition keys: %v %v", err, put)
	}
	shards := map[string]int{}
	for _, r := range put.Records {
		shards[aws.ToString(r.ShardId)]++
	}
	if len(shards) < 2 {
		t.Fatalf("AUTO put every record on %v", shards)
	}

	receive := func(dead bool, visibility int32) []types.QueueRecord {
		t.Helper()
		if dead {
			out, err := c.ReceiveDeadLetterQueueRecords(ctx(t), &kinesis.ReceiveDeadLetterQueueRecordsInput{
				QueueARN: queue, WaitTimeSeconds: aws.Int32(1), VisibilityTimeoutSeconds: aws.Int32(visibility),
			})
			if err != nil {
				t.Fatalf("ReceiveDeadLetterQueueRecords: %v", err)
			}
			return out.QueueRecords
		}
		out, err := c.ReceiveQueueRecords(ctx(t), &kinesis.ReceiveQueueRecordsInput{
			QueueARN: queue, WaitTimeSeconds: aws.Int32(1), VisibilityTimeoutSeconds: aws.Int32(visibility),
		})
		if err != nil {
			t.Fatalf("ReceiveQueueRecords: %v", err)
		}
		return out.QueueRecords
	}
	var got []types.QueueRecord
	for i := 0; i < 10 && len(got) < 30; i++ {
		got = append(got, receive(false, 2)...)
	}
	if len(got) != 30 {
		t.Fatalf("received %d of 30 records", len(got))
	}
	var data []string
	for _, r := range got {
		data = append(data, string(r.Data))
		if r.PartitionKey != nil {
			t.Fatalf("a record put without a partition key came with %q", aws.ToString(r.PartitionKey))
		}
		if aws.ToInt32(r.ReceiveCount) != 1 {
			t.Fatalf("first receive with ReceiveCount %d", aws.ToInt32(r.ReceiveCount))
		}
	}
	sort.Strings(data)
	for i, d := range data {
		if d != fmt.Sprintf("q%02d", i) {
			t.Fatalf("received %v", data)
		}
	}

	// Acknowledge 25; the other 5 stay unacknowledged (poison).
	for i := 0; i < 25; i += 5 {
		var e []types.AcknowledgeQueueRecordsRequestEntry
		for _, r := range got[i : i+5] {
			e = append(e, types.AcknowledgeQueueRecordsRequestEntry{ReceiptHandle: r.ReceiptHandle})
		}
		out, err := c.AcknowledgeQueueRecords(ctx(t), &kinesis.AcknowledgeQueueRecordsInput{QueueARN: queue, Entries: e})
		if err != nil || len(out.Successful) != 5 || len(out.Failed) != 0 {
			t.Fatalf("AcknowledgeQueueRecords: %v %+v", err, out)
		}
	}
	poison := got[25:]
	// Visibility 0 for one: it comes back at once, received a second time.
	vis, err := c.UpdateQueueRecordsVisibility(ctx(t), &kinesis.UpdateQueueRecordsVisibilityInput{
		QueueARN: queue,
		Entries: []types.UpdateQueueRecordsVisibilityRequestEntry{{
			ReceiptHandle: poison[0].ReceiptHandle, VisibilityTimeoutSeconds: aws.Int32(0),
		}},
	})
	if err != nil || len(vis.Successful) != 1 {
		t.Fatalf("UpdateQueueRecordsVisibility: %v %+v", err, vis)
	}
	back := receive(false, 0)
	if len(back) != 1 || string(back[0].Data) != string(poison[0].Data) || aws.ToInt32(back[0].ReceiveCount) != 2 {
		t.Fatalf("after visibility 0: %+v", back)
	}

	// Received twice (MaxReceiveCount 2) or past their timeout and received again: all five end as
	// dead letters, which only the dead-letter receive returns.
	var dead []types.QueueRecord
	deadline = time.Now().Add(15 * time.Second)
	for len(dead) < 5 && time.Now().Before(deadline) {
		receive(false, 0)
		dead = append(dead, receive(true, 60)...)
	}
	if len(dead) != 5 {
		t.Fatalf("%d dead letters, want 5", len(dead))
	}
	var restore []types.RestoreDeadLetterQueueRecordsRequestEntry
	for _, r := range dead {
		restore = append(restore, types.RestoreDeadLetterQueueRecordsRequestEntry{ReceiptHandle: r.ReceiptHandle})
	}
	restored, err := c.RestoreDeadLetterQueueRecords(ctx(t), &kinesis.RestoreDeadLetterQueueRecordsInput{QueueARN: queue, Entries: restore})
	if err != nil || len(restored.Successful) != 5 {
		t.Fatalf("RestoreDeadLetterQueueRecords: %v %+v", err, restored)
	}
	again := receive(false, 60)
	if len(again) != 5 {
		t.Fatalf("%d restored records received, want 5", len(again))
	}
	var e []types.AcknowledgeQueueRecordsRequestEntry
	for _, r := range again {
		if aws.ToInt32(r.ReceiveCount) != 1 {
			t.Fatalf("a restored record's ReceiveCount is %d, want 1 (reset)", aws.ToInt32(r.ReceiveCount))
		}
		e = append(e, types.AcknowledgeQueueRecordsRequestEntry{ReceiptHandle: r.ReceiptHandle})
	}
	if out, err := c.AcknowledgeQueueRecords(ctx(t), &kinesis.AcknowledgeQueueRecordsInput{QueueARN: queue, Entries: e}); err != nil || len(out.Successful) != 5 {
		t.Fatalf("AcknowledgeQueueRecords after restore: %v %+v", err, out)
	}
	if left := receive(false, 30); len(left) != 0 {
		t.Fatalf("records left after every one was acknowledged: %d", len(left))
	}

	// Control plane: update, list, delete.
	up, err := c.UpdateQueue(ctx(t), &kinesis.UpdateQueueInput{QueueARN: queue, QueueAttributes: &types.QueueAttributes{VisibilityTimeoutSeconds: aws.Int32(45)}})
	if err != nil || aws.ToInt32(up.QueueDescription.QueueAttributes.VisibilityTimeoutSeconds) != 45 {
		t.Fatalf("UpdateQueue: %v %+v", err, up)
	}
	list, err := c.ListQueues(ctx(t), &kinesis.ListQueuesInput{StreamFilter: []types.QueueStreamFilter{{StreamARN: aws.String(streamARN)}}})
	if err != nil || len(list.QueueSummaries) != 1 || aws.ToString(list.QueueSummaries[0].QueueARN) != aws.ToString(queue) {
		t.Fatalf("ListQueues: %v %+v", err, list)
	}
	if _, err := c.DeleteQueue(ctx(t), &kinesis.DeleteQueueInput{QueueARN: queue}); err != nil {
		t.Fatalf("DeleteQueue: %v", err)
	}
}
