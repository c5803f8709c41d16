package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/app/entryevents"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// entryEvents builds the entry-events handler against env, with tweak applied to its AWS
// config (to break its transport).
func entryEvents(t testing.TB, env *awstest.Env, tweak func(*aws.Config)) localaws.StreamHandler {
	t.Helper()
	cfg := env.Config.Copy()
	if tweak != nil {
		tweak(&cfg)
	}
	h := awstest.Build(t, entryevents.EntryEvents, cfg, env.App)
	return localaws.StreamHandler(h)
}

// relayed starts the stream relay of the fixture's table to the real entry-events handler.
func (f *fixture) relayed(t testing.TB) *localaws.Relay {
	t.Helper()
	return f.env.StartRelay(t, entryEvents(t, f.env, nil))
}

func waitRelay(t testing.TB, r *localaws.Relay) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	awstest.Must(t, r.Wait(ctx))
}

func TestCommittedEntryPublishesExactlyOneEventWithThe201Body(t *testing.T) {
	f := newFixture(t)
	relay := f.relayed(t)
	body := fmt.Sprintf(`{"data":{"email":"ada@example.com","age":36,"budget":12345678901234567890.123456789,"vip":true,"tags":["a"],"note":null},"customFieldData":{%q:"instagram_ad"}}`, f.fieldID)
	resp, _ := f.do(t, f.post(body, f.token))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status = %d; want 201: %s", resp.StatusCode, resp.Body)
	}
	waitRelay(t, relay)
	evs := f.env.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events published; want exactly 1", len(evs))
	}
	ev := evs[0]
	want := `{"entry":` + resp.Body + `,"trigger":{"type":"ingress_webhook","id":"` + f.webhookID + `"}}`
	if string(ev.Detail) != want {
		t.Errorf("Detail =\n%s\nwant the 201 body as entry:\n%s", ev.Detail, want)
	}
	if ev.Source != "rocketlead.ingress" || ev.DetailType != "table.entry.added" || ev.EventBusName != "default" {
		t.Errorf("event = %s / %s on %s; want rocketlead.ingress / table.entry.added on default", ev.Source, ev.DetailType, ev.EventBusName)
	}
	if relay.Dropped() != 0 {
		t.Errorf("relay dropped %d records", relay.Dropped())
	}
}

func TestEventSourceAndBusComeFromTheEnvironment(t *testing.T) {
	f := newFixture(t)
	env := f.env.App
	env.EventBusName, env.EventSource = "leads", "acme.leads"
	// EventBridge accepts and drops events for a bus that does not exist: create it first.
	_, err := eventbridge.NewFromConfig(f.env.Config).CreateEventBus(context.Background(), &eventbridge.CreateEventBusInput{Name: aws.String("leads")})
	awstest.Must(t, err)
	h := awstest.Build(t, entryevents.EntryEvents, f.env.Config, env)
	relay := f.env.StartRelay(t, localaws.StreamHandler(h))
	if resp, _ := f.do(t, f.post(`{"data":{"a":"b"}}`, f.token)); resp.StatusCode != 201 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	waitRelay(t, relay)
	evs := f.env.Events()
	if len(evs) != 1 || evs[0].Source != "acme.leads" || evs[0].EventBusName != "leads" {
		t.Errorf("events = %+v; want one on bus leads from acme.leads", evs)
	}
}

func TestFailedIngestPublishesNoEvent(t *testing.T) {
	big := `{"data":{"x":"` + strings.Repeat("a", 256<<10) + `"}}`
	tests := []struct {
		name   string
		status int
		fault  string // DynamoDB operation failing before commit
		req    func(f *fixture) string
		token  func(f *fixture) string
		path   string
	}{
		{name: "400 flat body", status: 400, req: func(*fixture) string { return `{"email":"a@b.co"}` }},
		{name: "400 type mismatch", status: 400, req: func(*fixture) string { return `{"data":{"email":5}}` }},
		{name: "401 wrong token", status: 401, token: func(*fixture) string { tok, _ := lead.NewToken(); return tok }},
		{name: "404 unknown webhook", status: 404, path: uuid.NewString()},
		{name: "413 body too large", status: 413, req: func(*fixture) string { return big }},
		{name: "500 PutItem fails before commit", status: 500, fault: "PutItem"},
		{name: "500 TransactWriteItems fails before commit", status: 500, fault: "TransactWriteItems", req: func(*fixture) string { return `{"data":{"fresh":"key"}}` }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &faultyTransport{next: http.DefaultTransport, op: tt.fault}
			f := newFixtureWithConfig(t, func(c *aws.Config) { c.HTTPClient = &http.Client{Transport: ft} })
			relay := f.relayed(t)
			// Lock email first so the faulty PutItem case writes with PutItem; this entry
			// is committed and must be the only event.
			seed, _ := f.do(t, f.post(`{"data":{"email":"a@b.co"}}`, f.token))
			if seed.StatusCode != 201 {
				t.Fatalf("seed status %d", seed.StatusCode)
			}
			ft.times.Store(100)

			body := `{"data":{"email":"a@b.co"}}`
			if tt.req != nil {
				body = tt.req(f)
			}
			token := f.token
			if tt.token != nil {
				token = tt.token(f)
			}
			req := f.post(body, token)
			if tt.path != "" {
				req.PathParameters["id"] = tt.path
			}
			resp, _ := f.do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d: %s", resp.StatusCode, tt.status, resp.Body)
			}
			waitRelay(t, relay)
			evs := f.env.Events()
			var ids []string
			for _, ev := range evs {
				var d wire.EntryAddedView
				awstest.Must(t, json.Unmarshal(ev.Detail, &d))
				ids = append(ids, d.Entry.ID)
			}
			var seedBody wire.EntryView
			awstest.Must(t, json.Unmarshal([]byte(seed.Body), &seedBody))
			if len(ids) != 1 || ids[0] != seedBody.ID {
				t.Errorf("events for entries %v; want only the committed seed entry %s", ids, seedBody.ID)
			}
			if n := len(f.entries(t)); n != len(evs) {
				t.Errorf("%d entries stored, %d events; want one event per committed entry", n, len(evs))
			}
		})
	}
}

func TestCommitWhoseResponseWasLostPublishesOnce(t *testing.T) {
	ft := &faultyTransport{next: http.DefaultTransport, op: "TransactWriteItems", afterSend: true}
	f := newFixtureWithConfig(t, func(c *aws.Config) { c.HTTPClient = &http.Client{Transport: ft} })
	relay := f.relayed(t)
	ft.times.Store(1)
	resp, _ := f.do(t, f.post(`{"data":{"email":"a@b.co"}}`, f.token))
	if resp.StatusCode != 201 {
		t.Fatalf("status = %d; want 201", resp.StatusCode)
	}
	waitRelay(t, relay)
	if n := len(f.env.Events()); n != 1 {
		t.Errorf("%d events for one committed entry whose write was retried; want 1", n)
	}
}

// streamBatch commits n entries to the table and returns their stream records, as the
// relay builds them, without handing them to any handler.
func streamBatch(t *testing.T, env *awstest.Env, n int) (events.DynamoDBEvent, []string) {
	t.Helper()
	var got []events.DynamoDBEventRecord
	collect := localaws.NewRelay(func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		got = append(got, ev.Records...)
		return events.DynamoDBEventResponse{}, nil
	}, localaws.RelayOptions{Table: awstest.Table})
	env.Server.OnWrite(collect.Observe)
	poolID, webhookID := uuid.NewString(), uuid.NewString()
	var ids []string
	for i := range n {
		id, err := lead.NewEntryID()
		awstest.Must(t, err)
		e := &lead.Entry{ID: id, PoolID: poolID, OrganizationID: uuid.NewString(), WebhookID: webhookID,
			LeadStateID: uuid.NewString(), CreatedAt: time.Now().UTC().Truncate(time.Second),
			Data: map[string]any{"i": lead.Number(fmt.Sprint(i)), "exact": lead.Number("0.12345678901234567890123456789012345678")}}
		item, err := dynamo.EntryItem(e)
		awstest.Must(t, err)
		_, err = env.DB.PutItem(context.Background(), &dynamodb.PutItemInput{
			TableName: aws.String(awstest.Table), Item: item})
		awstest.Must(t, err)
		ids = append(ids, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	awstest.Must(t, collect.Close(ctx))
	if len(got) != n {
		t.Fatalf("collected %d records; want %d", len(got), n)
	}
	return events.DynamoDBEvent{Records: got}, ids
}

func publishedIDs(t *testing.T, evs []localaws.PublishedEvent) []string {
	t.Helper()
	var ids []string
	for _, ev := range evs {
		var d wire.EntryAddedView
		awstest.Must(t, json.Unmarshal(ev.Detail, &d))
		ids = append(ids, d.Entry.ID)
	}
	return ids
}

func failedSeqs(resp events.DynamoDBEventResponse) []string {
	var s []string
	for _, f := range resp.BatchItemFailures {
		s = append(s, f.ItemIdentifier)
	}
	slices.Sort(s)
	return s
}

func TestPartialPutEventsFailureReportsExactlyTheFailedRecords(t *testing.T) {
	env := awstest.Start(t)
	batch, ids := streamBatch(t, env, 10)
	failing := map[string]bool{ids[2]: true, ids[7]: true}
	env.Server.FailEvents(func(ev localaws.PublishedEvent) (string, string) {
		var d wire.EntryAddedView
		if json.Unmarshal(ev.Detail, &d) == nil && failing[d.Entry.ID] {
			return "ThrottlingException", "Rate exceeded"
		}
		return "", ""
	})
	handler := entryEvents(t, env, nil)

	resp, err := handler(context.Background(), batch)
	awstest.Must(t, err)
	want := []string{batch.Records[2].Change.SequenceNumber, batch.Records[7].Change.SequenceNumber}
	slices.Sort(want)
	if got := failedSeqs(resp); !slices.Equal(got, want) {
		t.Errorf("batchItemFailures = %v; want exactly records 2 and 7 %v", got, want)
	}
	published := publishedIDs(t, env.Events())
	if len(published) != 8 || slices.Contains(published, ids[2]) || slices.Contains(published, ids[7]) {
		t.Errorf("published %v; want the 8 accepted entries and neither failed one", published)
	}

	// Lambda retries the reported records; EventBridge accepts them now.
	env.Server.FailEvents(nil)
	retry := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{batch.Records[2], batch.Records[7]}}
	resp, err = handler(context.Background(), retry)
	awstest.Must(t, err)
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("retry batchItemFailures = %v; want none", resp.BatchItemFailures)
	}
	published = publishedIDs(t, env.Events())
	slices.Sort(published)
	slices.Sort(ids)
	if !slices.Equal(published, ids) {
		t.Errorf("after the retry, published %v; want each of %v once", published, ids)
	}
}

// failingTransport fails every EventBridge call before it reaches the server.
type failingTransport struct{ next http.RoundTripper }

func (ft failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AWSEvents.") {
		return nil, errors.New("dial tcp: connection refused")
	}
	return ft.next.RoundTrip(r)
}

func TestPutEventsTransportErrorReportsEveryRecordThenRetryPublishes(t *testing.T) {
	env := awstest.Start(t)
	batch, ids := streamBatch(t, env, 10)
	broken := entryEvents(t, env, func(c *aws.Config) {
		c.HTTPClient = &http.Client{Transport: failingTransport{next: http.DefaultTransport}}
		c.RetryMaxAttempts = 2
	})
	resp, err := broken(context.Background(), batch)
	awstest.Must(t, err)
	var all []string
	for _, r := range batch.Records {
		all = append(all, r.Change.SequenceNumber)
	}
	slices.Sort(all)
	if got := failedSeqs(resp); !slices.Equal(got, all) {
		t.Errorf("batchItemFailures = %v; want every record %v", got, all)
	}
	if n := len(env.Events()); n != 0 {
		t.Fatalf("%d events accepted through a broken transport; want 0", n)
	}

	resp, err = entryEvents(t, env, nil)(context.Background(), batch)
	awstest.Must(t, err)
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("retry batchItemFailures = %v; want none", resp.BatchItemFailures)
	}
	published := publishedIDs(t, env.Events())
	slices.Sort(published)
	slices.Sort(ids)
	if !slices.Equal(published, ids) {
		t.Errorf("after the retry, published %v; want %v", published, ids)
	}
}

func TestRelayRetriesFailedRecordsUntilAccepted(t *testing.T) {
	f := newFixture(t)
	relay := f.relayed(t)
	// EventBridge throttles every entry's first two attempts.
	attempts := map[string]int{}
	f.env.Server.FailEvents(func(ev localaws.PublishedEvent) (string, string) {
		var d wire.EntryAddedView
		_ = json.Unmarshal(ev.Detail, &d)
		attempts[d.Entry.ID]++ // PutEvents of one relay runs one at a time
		if attempts[d.Entry.ID] <= 2 {
			return "ThrottlingException", "Rate exceeded"
		}
		return "", ""
	})
	var created []string
	for i := range 5 {
		resp, body := f.do(t, f.post(fmt.Sprintf(`{"data":{"n":%d}}`, i), f.token))
		if resp.StatusCode != 201 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		created = append(created, body["id"].(string))
	}
	waitRelay(t, relay)
	published := publishedIDs(t, f.env.Events())
	slices.Sort(published)
	slices.Sort(created)
	if !slices.Equal(published, created) || relay.Dropped() != 0 {
		t.Errorf("published %v (dropped %d); want each of %v once", published, relay.Dropped(), created)
	}
}

func TestSampleStreamEventForSAMLocalInvoke(t *testing.T) {
	b, err := os.ReadFile("../../infra/samlocal/events/entry-events-stream.json")
	awstest.Must(t, err)
	var ev events.DynamoDBEvent
	awstest.Must(t, json.Unmarshal(b, &ev))
	env := awstest.Start(t)
	resp, err := entryEvents(t, env, nil)(context.Background(), ev)
	awstest.Must(t, err)
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("batchItemFailures = %v; want none for the sample", resp.BatchItemFailures)
	}
	evs := env.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events; want 1 for the sample's entry", len(evs))
	}
	for _, part := range []string{
		`"id":"0196b8e2-4c00-7a3b-8f21-5d6e7f809102"`,
		`"budget":12345678901234567890.123456789`,
		`"trigger":{"type":"ingress_webhook","id":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"}`,
	} {
		if !strings.Contains(string(evs[0].Detail), part) {
			t.Errorf("Detail %s does not contain %s", evs[0].Detail, part)
		}
	}
}
