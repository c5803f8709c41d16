package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport"
)

var exportRE = regexp.MustCompile(`(?m)^export URL=.* ENDPOINT=(\S+) QUEUE=(\S+)$`)

// TestRunnerTellsItsAddressAndQueuesGivenUpRecords: the AWS address says where the API is
// (rlctl's webhook URLs follow the runner's -addr), and a stream record the relay gives up on
// (every PutEvents attempt failed) lands in the failure queue as Lambda's failure record,
// read with the real SQS client, naming the entry's range and the stream.
func TestRunnerTellsItsAddressAndQueuesGivenUpRecords(t *testing.T) {
	out := &testsupport.SyncBuffer{}
	s, _ := startRunnerWith(t, "", out, func(o *options) { o.faults = "PutEvents:partial:#3" })
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m = exportRE.FindStringSubmatch(out.String())
	}
	if m == nil {
		t.Fatalf("the runner printed no export line with ENDPOINT and QUEUE:\n%s", out.String())
	}
	endpoint, queueURL := m[1], m[2]

	resp, err := http.Get(endpoint + localaws.RunnerInfoPath)
	if err != nil {
		t.Fatal(err)
	}
	var info localaws.RunnerInfo
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || info.PublicBaseURL == "" || !strings.HasPrefix(s.URL, info.PublicBaseURL+"/public/ingress_webhooks/") {
		t.Errorf("runner info = %+v, %v; want the base of %s", info, err, s.URL)
	}

	if code, body := callJSON(t, http.MethodPost, s.URL, s.Token, `{"data":{"email":"ada@example.com"}}`); code != http.StatusCreated {
		t.Fatalf("POST = %d %v", code, body)
	}
	q := sqs.NewFromConfig(localaws.Config(endpoint))
	var msgs []string
	for deadline := time.Now().Add(10 * time.Second); len(msgs) == 0 && time.Now().Before(deadline); {
		got, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got.Messages {
			msgs = append(msgs, aws.ToString(m.Body))
		}
	}
	if len(msgs) != 1 {
		t.Fatalf("failure queue holds %d messages; want 1", len(msgs))
	}
	var rec failureMessage
	if err := json.Unmarshal([]byte(msgs[0]), &rec); err != nil {
		t.Fatal(err)
	}
	b := rec.Batch
	if rec.RequestContext.Condition != "RetryAttemptsExhausted" || b.BatchSize != 1 || b.StartSequenceNumber == "" ||
		b.StartSequenceNumber != b.EndSequenceNumber || !strings.Contains(b.StreamArn, ":table/"+localTable+"/stream/") {
		t.Errorf("failure record = %s; want one record's range on the table's stream, RetryAttemptsExhausted", msgs[0])
	}
}

// TestRunnerPrintsOneLinePerRequestUnlessVerbose: by default a request leaves one log line
// (the front's), so the event line stands out; -v adds the functions' own lines (the ingress
// request's and the stream batch's, each also its EMF document).
func TestRunnerPrintsOneLinePerRequestUnlessVerbose(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		logs, out := &testsupport.SyncBuffer{}, &testsupport.SyncBuffer{}
		s, stop := startRunnerWith(t, "", out, func(o *options) { o.verbose, o.logs = verbose, logs })
		if code, body := callJSON(t, http.MethodPost, s.URL, s.Token, `{"data":{"email":"ada@example.com"}}`); code != http.StatusCreated {
			t.Fatalf("POST = %d %v", code, body)
		}
		for deadline := time.Now().Add(10 * time.Second); len(eventLines(t, out.String())) == 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(logs.String()+"\n"+out.String()), "\n") {
			if strings.Contains(l, `"msg":"request"`) || strings.Contains(l, "msg=request") ||
				strings.Contains(l, `"msg":"stream batch"`) || strings.Contains(l, `"_aws":`) {
				lines = append(lines, l)
			}
		}
		want := 1 // the front's line
		if verbose {
			want = 3 // and the ingress function's line and the stream batch's, each its EMF document too
		}
		if len(lines) != want || len(eventLines(t, out.String())) != 1 {
			t.Errorf("verbose=%v: %d request lines (want %d) and %d event lines (want 1):\n%s", verbose, len(lines), want,
				len(eventLines(t, out.String())), strings.Join(lines, "\n"))
		}
	}
}

// TestFailureLinesPassOnlyAFailuresLine: without -v the runner prints a function's own line
// only when it has a level (a 5xx's request line), never a success's.
func TestFailureLinesPassOnlyAFailuresLine(t *testing.T) {
	var out bytes.Buffer
	w := failureLines{&out}
	ok := `{"timestamp":"2026-12-03T12:00:00.000Z","requestId":"r1","status":201,"Requests":1}` + "\n"
	failed := `{"timestamp":"2026-12-03T12:00:00.000Z","level":"ERROR","requestId":"r2","status":500,"error":"x","Requests":1}` + "\n"
	for _, l := range []string{ok, failed} {
		if n, err := w.Write([]byte(l)); n != len(l) || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(l))
		}
	}
	if out.String() != failed {
		t.Errorf("printed %q; want only the failure's line", out.String())
	}
}
