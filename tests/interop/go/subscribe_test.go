package interop

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// session is what one SubscribeToShard call delivered until the server ended it.
type session struct {
	data         []string
	seqs         []string
	continuation string
	children     []types.ChildShard
	lastHasCont  bool
	lasted       time.Duration
}

// subscribe runs one SubscribeToShard session to its end (the server closes it after
// --subscription-secs, or at the end of a closed shard), collecting the records.
func subscribe(t *testing.T, c *kinesis.Client, consumerARN, shard string, pos *types.StartingPosition, whileOpen func(*session)) *session {
	t.Helper()
	cx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	out, err := c.SubscribeToShard(cx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(consumerARN), ShardId: aws.String(shard), StartingPosition: pos})
	if err != nil {
		t.Fatalf("SubscribeToShard: %v", err)
	}
	stream := out.GetStream()
	defer stream.Close()
	s := &session{}
	called := false
	for ev := range stream.Events() {
		e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !ok {
			t.Fatalf("unexpected event %T", ev)
		}
		for _, r := range e.Value.Records {
			s.data = append(s.data, string(r.Data))
			s.seqs = append(s.seqs, *r.SequenceNumber)
		}
		if e.Value.MillisBehindLatest == nil {
			t.Errorf("event without MillisBehindLatest")
		}
		s.lastHasCont = e.Value.ContinuationSequenceNumber != nil
		if e.Value.ContinuationSequenceNumber != nil {
			s.continuation = *e.Value.ContinuationSequenceNumber
		}
		if len(e.Value.ChildShards) > 0 {
			s.children = e.Value.ChildShards
		}
		if whileOpen != nil && !called {
			called = true
			whileOpen(s)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("SubscribeToShard stream ended with %v", err)
	}
	s.lasted = time.Since(start)
	return s
}

func seqRange(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

func putAll(t *testing.T, c *kinesis.Client, stream string, data []string) {
	t.Helper()
	var entries []types.PutRecordsRequestEntry
	for _, d := range data {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), ExplicitHashKey: aws.String("0"), Data: []byte(d)})
	}
	out, err := c.PutRecords(ctx(t), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords: %v", err)
	}
}

// TestSubscribeToShardHTTP2TLS: enhanced fan-out over HTTP/2 with TLS, sessions that the server
// ends after --subscription-secs, resubscription from the continuation sequence number, and the
// ChildShards event at the end of a split parent.
func TestSubscribeToShardHTTP2TLS(t *testing.T) {
	const sessionSecs = 3
	srv := startServer(t, true, "--subscription-secs", fmt.Sprint(sessionSecs))
	c, rec := newClient(t, srv.https)
	stream := "go-subscribe"
	if _, err := c.CreateStream(ctx(t), &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	summary := waitActive(t, c, stream)
	reg, err := c.RegisterStreamConsumer(ctx(t), &kinesis.RegisterStreamConsumerInput{StreamARN: summary.StreamARN, ConsumerName: aws.String("go-consumer")})
	if err != nil {
		t.Fatalf("RegisterStreamConsumer: %v", err)
	}
	consumerARN := *reg.Consumer.ConsumerARN
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := c.DescribeStreamConsumer(ctx(t), &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(consumerARN)})
		if err != nil {
			t.Fatalf("DescribeStreamConsumer: %v", err)
		}
		if d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("consumer not ACTIVE after 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	shard := "shardId-000000000000"

	// Session 1 from TRIM_HORIZON; 10 more records arrive while it is open; the server ends it.
	putAll(t, c, stream, seqRange("g-", 0, 20))
	s1 := subscribe(t, c, consumerARN, shard, &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}, func(*session) {
		putAll(t, c, stream, seqRange("g-", 20, 30))
	})
	if p := rec.proto("SubscribeToShard"); p != "HTTP/2.0" {
		t.Errorf("SubscribeToShard answered over %q, want HTTP/2.0", p)
	}
	if !slices.Equal(s1.data, seqRange("g-", 0, 30)) {
		t.Fatalf("session 1 delivered %v", s1.data)
	}
	if s1.lasted < (sessionSecs*time.Second)-500*time.Millisecond || s1.lasted > (sessionSecs+5)*time.Second {
		t.Errorf("session 1 lasted %v; --subscription-secs is %d", s1.lasted, sessionSecs)
	}
	cont, _ := new(big.Int).SetString(s1.continuation, 10)
	lastSeq, _ := new(big.Int).SetString(s1.seqs[len(s1.seqs)-1], 10)
	if cont == nil || cont.Cmp(lastSeq) < 0 {
		t.Fatalf("ContinuationSequenceNumber %q is behind the last record %s", s1.continuation, s1.seqs[len(s1.seqs)-1])
	}

	// Resubscribe from the continuation: exactly the records put since.
	putAll(t, c, stream, seqRange("g-", 30, 40))
	s2 := subscribe(t, c, consumerARN, shard, &types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber,
		SequenceNumber: aws.String(s1.continuation)}, nil)
	if !slices.Equal(s2.data, seqRange("g-", 30, 40)) {
		t.Fatalf("session 2 (AFTER_SEQUENCE_NUMBER the continuation) delivered %v", s2.data)
	}

	// Split: the parent's session ends with ChildShards and no continuation.
	if _, err := c.SplitShard(ctx(t), &kinesis.SplitShardInput{StreamName: aws.String(stream), ShardToSplit: aws.String(shard),
		NewStartingHashKey: aws.String(new(big.Int).Lsh(big.NewInt(1), 127).String())}); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	waitActive(t, c, stream)
	s3 := subscribe(t, c, consumerARN, shard, &types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber,
		SequenceNumber: aws.String(s2.continuation)}, nil)
	if len(s3.data) != 0 {
		t.Errorf("records after the last continuation of the closed parent: %v", s3.data)
	}
	if len(s3.children) != 2 {
		t.Fatalf("ChildShards at the end of the parent: %+v", s3.children)
	}
	if s3.lastHasCont {
		t.Errorf("the shard-end event carries a ContinuationSequenceNumber")
	}
	for _, ch := range s3.children {
		if !slices.Equal(ch.ParentShards, []string{shard}) {
			t.Errorf("child %s has ParentShards %v", *ch.ShardId, ch.ParentShards)
		}
	}
}
