package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/eventbus"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// startMoto runs moto_server, a Python implementation of SQS, DynamoDB and DynamoDB Streams
// speaking their real protocols: nothing in Go here serves SQS or the Streams API. Outside CI
// a machine without it skips the test; under CI=true its absence is a failure.
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("moto_server is not installed (pip install 'moto[server]'): CI requires it for the redrive test")
		}
		t.Skip("moto_server is not installed (pip install 'moto[server]'); CI runs this test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on %s", url)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// redriveFixture is a table with a stream and a failure queue in moto, entries written to the
// table, and the EventBridge stand-in of localaws.
type redriveFixture struct {
	ctx       context.Context
	aws       *awstest.Env
	db        *dynamodb.Client
	queue     *sqs.Client
	streams   *dynamodbstreams.Client
	queueURL  string
	streamArn string
	shard     string
	seq       map[string]string // entry id → sequence number
	table     string
}

func newRedriveFixture(t *testing.T) *redriveFixture {
	t.Helper()
	cfg := localaws.Config(startMoto(t))
	f := &redriveFixture{ctx: context.Background(), aws: awstest.Start(t), db: dynamodb.NewFromConfig(cfg),
		queue: sqs.NewFromConfig(cfg), streams: dynamodbstreams.NewFromConfig(cfg), seq: map[string]string{}, table: "leads"}
	ct, err := f.db.CreateTable(f.ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(f.table),
		KeySchema: []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		BillingMode:         ddbtypes.BillingModePayPerRequest,
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewImage},
	})
	awstest.Must(t, err)
	f.streamArn = aws.ToString(ct.TableDescription.LatestStreamArn)
	q, err := f.queue.CreateQueue(f.ctx, &sqs.CreateQueueInput{QueueName: aws.String("entry-events-failures")})
	awstest.Must(t, err)
	f.queueURL = aws.ToString(q.QueueUrl)
	return f
}

// putEntry writes an entry item as the store does and returns its id.
func (f *redriveFixture) putEntry(t *testing.T, created time.Time) string {
	t.Helper()
	e := &lead.Entry{ID: uuid.NewString(), PoolID: uuid.NewString(), OrganizationID: uuid.NewString(), LeadStateID: uuid.NewString(),
		WebhookID: uuid.NewString(), CreatedAt: created.UTC().Truncate(time.Second), Data: map[string]any{"email": "redrive@example.com"}}
	item, err := dynamo.EntryItem(e)
	awstest.Must(t, err)
	_, err = f.db.PutItem(f.ctx, &dynamodb.PutItemInput{TableName: aws.String(f.table), Item: item})
	awstest.Must(t, err)
	return e.ID
}

// putOther writes an item that is not an entry (the stream carries every write).
func (f *redriveFixture) putOther(t *testing.T) {
	t.Helper()
	_, err := f.db.PutItem(f.ctx, &dynamodb.PutItemInput{TableName: aws.String(f.table), Item: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "TABLE#" + uuid.NewString()}, "sk": &ddbtypes.AttributeValueMemberS{Value: "POOL"}}})
	awstest.Must(t, err)
}

// putFence writes a fence as the store does at the key of an entry whose write it gave up
// on: an entry's key, but no entry.
func (f *redriveFixture) putFence(t *testing.T) {
	t.Helper()
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	_, err := f.db.PutItem(f.ctx, &dynamodb.PutItemInput{TableName: aws.String(f.table), Item: map[string]ddbtypes.AttributeValue{
		"pk": s("TABLE#" + uuid.NewString() + "#07"), "sk": s(dynamo.EntryPrefix + uuid.NewString()),
		dynamo.TypeAttribute: s(dynamo.FenceType), "fencedAt": s(lead.FormatTime(time.Now())),
		dynamo.TTLAttribute: &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(dynamo.FenceTTL).Unix(), 10)}}})
	awstest.Must(t, err)
}

// readStream maps every entry id of the stream to its sequence number.
func (f *redriveFixture) readStream(t *testing.T) {
	t.Helper()
	d, err := f.streams.DescribeStream(f.ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(f.streamArn)})
	awstest.Must(t, err)
	f.shard = aws.ToString(d.StreamDescription.Shards[0].ShardId)
	it, err := f.streams.GetShardIterator(f.ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(f.streamArn),
		ShardId: aws.String(f.shard), ShardIteratorType: "TRIM_HORIZON"})
	awstest.Must(t, err)
	out, err := f.streams.GetRecords(f.ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	awstest.Must(t, err)
	for _, r := range out.Records {
		item, err := itemFromStream(r.Dynamodb.NewImage)
		awstest.Must(t, err)
		if id, ok := item["id"].(*ddbtypes.AttributeValueMemberS); ok {
			f.seq[id.Value] = aws.ToString(r.Dynamodb.SequenceNumber)
		}
	}
}

// fail sends the message Lambda writes to the on-failure destination for a range.
func (f *redriveFixture) fail(t *testing.T, streamArn, start, end string, first, last time.Time) {
	t.Helper()
	body := fmt.Sprintf(`{"requestContext":{"requestId":%q,"functionArn":"arn:aws:lambda:us-east-1:123456789012:function:entry-events","condition":"RetryAttemptsExhausted","approximateInvokeCount":11},`+
		`"responseContext":{"statusCode":200,"executedVersion":"$LATEST"},"version":"1.0","timestamp":%q,`+
		`"DDBStreamBatchInfo":{"shardId":%q,"startSequenceNumber":%q,"endSequenceNumber":%q,"approximateArrivalOfFirstRecord":%q,"approximateArrivalOfLastRecord":%q,"batchSize":2,"streamArn":%q}}`,
		uuid.NewString(), time.Now().UTC().Format(time.RFC3339Nano), f.shard, start, end,
		first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339), streamArn)
	_, err := f.queue.SendMessage(f.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(f.queueURL), MessageBody: aws.String(body)})
	awstest.Must(t, err)
}

// trimmedStreams answers GetShardIterator as DynamoDB Streams does for records past the
// 24-hour retention (moto keeps every record), and passes everything else to moto.
type trimmedStreams struct {
	*dynamodbstreams.Client
}

func (trimmedStreams) GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	return nil, &streamtypes.TrimmedDataAccessException{Message: aws.String("the requested data has been trimmed")}
}

// redrive runs one redrive and returns the entry ids the bus accepted during it.
func (f *redriveFixture) redrive(t *testing.T) ([]string, redriveReport, string) {
	t.Helper()
	return f.redriveWith(t, f.streams)
}

func (f *redriveFixture) redriveWith(t *testing.T, streams streamsAPI) ([]string, redriveReport, string) {
	t.Helper()
	before := len(f.aws.Events())
	var out bytes.Buffer
	r := &redriver{queue: f.queue, streams: streams, table: f.db, tableName: f.table, out: &out, visibility: 30,
		pub: eventbus.New(eventbridge.NewFromConfig(f.aws.Config), "default", lead.DefaultEventSource, nil)}
	rep, err := r.run(f.ctx, f.queueURL)
	awstest.Must(t, err)
	var ids []string
	for _, ev := range f.aws.Events()[before:] {
		var d struct {
			Entry struct{ ID string } `json:"entry"`
		}
		awstest.Must(t, json.Unmarshal(ev.Detail, &d))
		ids = append(ids, d.Entry.ID)
	}
	sort.Strings(ids)
	return ids, rep, out.String()
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	sort.Strings(out)
	return out
}

func TestRedrivePublishesTheFailedEntriesOnceAndIsSafeToRunAgain(t *testing.T) {
	f := newRedriveFixture(t)
	now := time.Now()
	e := make([]string, 6)
	for i := range e {
		e[i] = f.putEntry(t, now)
		if i == 1 {
			f.putOther(t) // inside the first range: skipped
			f.putFence(t) // an entry's key, but no entry: skipped
		}
	}
	f.readStream(t)
	// Two overlapping ranges (e1..e2, e2..e3) and a single record (e5); e0 and e4 were
	// published by the function and must not be published again.
	f.fail(t, f.streamArn, f.seq[e[1]], f.seq[e[2]], now, now)
	f.fail(t, f.streamArn, f.seq[e[2]], f.seq[e[3]], now, now)
	f.fail(t, f.streamArn, f.seq[e[5]], f.seq[e[5]], now, now)

	// EventBridge fails e3 once, as under throttling.
	var failedOnce atomic.Bool
	f.aws.Server.FailEvents(func(ev localaws.PublishedEvent) (string, string) {
		if strings.Contains(string(ev.Detail), e[3]) && failedOnce.CompareAndSwap(false, true) {
			return "ThrottlingException", "Rate exceeded"
		}
		return "", ""
	})

	got, rep, out := f.redrive(t)
	if want := sorted(e[1], e[2], e[5]); !slices.Equal(got, want) {
		t.Errorf("first run published %v; want %v (each failed entry once, e3 refused by the bus)\n%s", got, want, out)
	}
	if rep.Messages != 3 || rep.Deleted != 2 || rep.Kept != 1 || rep.Failed != 1 {
		t.Errorf("first run report %+v; want 3 messages, 2 deleted, 1 kept, 1 failed\n%s", rep, out)
	}
	if !strings.Contains(out, "entry "+e[3]+": not published") {
		t.Errorf("output does not name the entry that failed:\n%s", out)
	}

	// The kept message is visible again at once: the second run publishes its entries.
	got, rep, out = f.redrive(t)
	if want := sorted(e[2], e[3]); !slices.Equal(got, want) {
		t.Errorf("second run published %v; want %v\n%s", got, want, out)
	}
	if rep.Messages != 1 || rep.Deleted != 1 || rep.Kept != 0 {
		t.Errorf("second run report %+v; want the one kept message deleted\n%s", rep, out)
	}

	// Nothing left: a third run publishes nothing.
	got, rep, _ = f.redrive(t)
	if len(got) != 0 || rep.Messages != 0 {
		t.Errorf("third run published %v (report %+v); want nothing", got, rep)
	}
	for _, id := range []string{e[0], e[4]} {
		for _, ev := range f.aws.Events() {
			if strings.Contains(string(ev.Detail), id) {
				t.Errorf("entry %s, never named by a message, was published", id)
			}
		}
	}
}

func TestRedriveReadsTheTableWhenTheStreamNoLongerHoldsTheRecords(t *testing.T) {
	f := newRedriveFixture(t)
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	stale := f.putEntry(t, old)
	f.putEntry(t, time.Now()) // created at another time: not named
	f.readStream(t)
	f.fail(t, f.streamArn, f.seq[stale], f.seq[stale], old, old)

	got, rep, out := f.redriveWith(t, trimmedStreams{f.streams})
	if want := []string{stale}; !slices.Equal(got, want) || rep.Deleted != 1 {
		t.Errorf("published %v (report %+v); want %v from the table, message deleted\n%s", got, rep, want, out)
	}
	if !strings.Contains(out, "from table "+f.table) {
		t.Errorf("output does not say the entries came from the table:\n%s", out)
	}
}

func TestRedriveKeepsAMessageItCannotRead(t *testing.T) {
	f := newRedriveFixture(t)
	_, err := f.queue.SendMessage(f.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(f.queueURL), MessageBody: aws.String(`{"hello":"world"}`)})
	awstest.Must(t, err)
	got, rep, out := f.redrive(t)
	if len(got) != 0 || rep.Kept != 1 || rep.Deleted != 0 || !strings.Contains(out, "not a stream failure record") {
		t.Errorf("published %v, report %+v; want nothing published, the message kept and named\n%s", got, rep, out)
	}
}

func TestEventsRedriveCommandWiresTheQueueStreamAndBus(t *testing.T) {
	f := newRedriveFixture(t)
	endpoint := strings.TrimSuffix(aws.ToString(f.db.Options().BaseEndpoint), "/")
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		want    string
	}{
		{"empty queue", []string{"events", "redrive", "--endpoint", endpoint, "--table-name", f.table, "--queue-url", f.queueURL},
			false, "messages 0: deleted 0, kept 0; events published 0, failed 0"},
		{"json", []string{"events", "redrive", "--endpoint", endpoint, "--table-name", f.table, "--queue-url", f.queueURL, "--json"},
			false, `"messages":0`},
		{"queue url required", []string{"events", "redrive", "--endpoint", endpoint}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(f.ctx, tt.args, &out, func(string) string { return "" })
			if (err != nil) != tt.wantErr || !strings.Contains(out.String(), tt.want) {
				t.Errorf("run(%v) = %v, %q; want error %v, output with %q", tt.args, err, out.String(), tt.wantErr, tt.want)
			}
		})
	}
}
