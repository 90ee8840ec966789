// Package interop drives shardline with the AWS SDK for Go v2 (service/kinesis): the everyday flow
// over HTTP/1.1 and SubscribeToShard over HTTP/2 with TLS.
//
// Environment (tests/interop/run sets it): SHARDLINE_BIN, the server binary; INTEROP_TLS_CERT and
// INTEROP_TLS_KEY, the PEM certificate shardline made for localhost/127.0.0.1 and its key, given to
// every server here with --tls-cert/--tls-key and trusted by the client as a root CA (the way a user
// trusts a self-signed endpoint; certificate and host name are verified); INTEROP_WORK, a directory
// for the server logs.
package interop

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

const account = "000000000000"

var listening = regexp.MustCompile(`^shardline listening on (https?)://127\.0\.0\.1:(\d+)\b`)

// server is one `shardline serve --in-memory` on 127.0.0.1, stopped when the test ends.
type server struct {
	http  string
	https string
}

func mustEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("environment variable %s is required (tests/interop/run sets it)", name)
	}
	return v
}

// startServer starts shardline with the delays at 0 and the limits off; tls adds an HTTPS port
// serving the suite's certificate.
func startServer(t *testing.T, tls bool, extra ...string) *server {
	t.Helper()
	args := []string{"serve", "--host", "127.0.0.1", "--port", "0", "--in-memory",
		"--create-delay-ms", "0", "--delete-delay-ms", "0", "--limits", "off"}
	if tls {
		args = append(args, "--tls-port", "0", "--tls-cert", mustEnv(t, "INTEROP_TLS_CERT"),
			"--tls-key", mustEnv(t, "INTEROP_TLS_KEY"))
	}
	args = append(args, extra...)
	cmd := exec.Command(mustEnv(t, "SHARDLINE_BIN"), args...)
	logDir := os.Getenv("INTEROP_WORK")
	if logDir == "" {
		logDir = t.TempDir()
	}
	logFile, err := os.Create(filepath.Join(logDir, "shardline-go-"+strings.ReplaceAll(t.Name(), "/", "_")+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logFile.Close()
	})
	s := &server{}
	found := make(chan error, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		reported := false
		for scanner.Scan() {
			if m := listening.FindStringSubmatch(scanner.Text()); m != nil {
				if m[1] == "http" {
					s.http = "http://127.0.0.1:" + m[2]
				} else {
					s.https = "https://127.0.0.1:" + m[2]
				}
				if !reported && s.http != "" && (!tls || s.https != "") {
					reported = true
					found <- nil
				}
			}
		}
		if !reported {
			found <- fmt.Errorf("shardline exited before reporting its port(s)")
		}
	}()
	select {
	case err := <-found:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("shardline did not report its port(s) within 15 s")
	}
	return s
}

// recorder is the HTTP client the SDK gets: the SDK's own BuildableClient, noting the protocol
// (HTTP/1.1, HTTP/2.0) each operation was answered with.
type recorder struct {
	inner  aws.HTTPClient
	mu     sync.Mutex
	protos map[string]string
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.inner.Do(req)
	if err == nil {
		op := req.Header.Get("X-Amz-Target")
		if i := strings.LastIndex(op, "."); i >= 0 {
			op = op[i+1:]
		}
		r.mu.Lock()
		r.protos[op] = resp.Proto
		r.mu.Unlock()
	}
	return resp, err
}

func (r *recorder) proto(op string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.protos[op]
}

// newClient builds a Kinesis client for endpoint. For https it trusts the suite's certificate
// as a root CA; the SDK's transport then negotiates HTTP/2 by ALPN (ForceAttemptHTTP2 is on in
// its default transport), which SubscribeToShard needs.
func newClient(t *testing.T, endpoint string) (*kinesis.Client, *recorder) {
	t.Helper()
	httpClient := awshttp.NewBuildableClient()
	if strings.HasPrefix(endpoint, "https://") {
		pem, err := os.ReadFile(mustEnv(t, "INTEROP_TLS_CERT"))
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatal("no certificate in INTEROP_TLS_CERT")
		}
		httpClient = httpClient.WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{}
			}
			tr.TLSClientConfig.RootCAs = pool
		})
	}
	rec := &recorder{inner: httpClient, protos: map[string]string{}}
	client := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("interop", "interop-secret", ""),
		HTTPClient:   rec,
	})
	return client, rec
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func hashKeyOf(pk string) *big.Int {
	sum := md5.Sum([]byte(pk))
	return new(big.Int).SetBytes(sum[:])
}

func contains(s types.Shard, key *big.Int) bool {
	lo, _ := new(big.Int).SetString(*s.HashKeyRange.StartingHashKey, 10)
	hi, _ := new(big.Int).SetString(*s.HashKeyRange.EndingHashKey, 10)
	return lo.Cmp(key) <= 0 && hi.Cmp(key) >= 0
}

func maxHashKey() *big.Int {
	return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
}

func waitActive(t *testing.T, c *kinesis.Client, stream string) *types.StreamDescriptionSummary {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.DescribeStreamSummary(ctx(t), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err != nil {
			t.Fatalf("DescribeStreamSummary: %v", err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return out.StreamDescriptionSummary
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not ACTIVE after 30 s", stream)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func listShards(t *testing.T, c *kinesis.Client, stream string) []types.Shard {
	t.Helper()
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		out, err := c.ListShards(ctx(t), in)
		if err != nil {
			t.Fatalf("ListShards: %v", err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			return shards
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}
