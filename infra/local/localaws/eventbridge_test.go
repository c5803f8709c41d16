package localaws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
)

type ebEnv struct {
	srv *localaws.Server
	eb  *eventbridge.Client

	mu     sync.Mutex
	events []localaws.PublishedEvent
}

func newEBEnv(t *testing.T) *ebEnv {
	t.Helper()
	e := &ebEnv{srv: localaws.New(localaws.Options{EventBuses: []string{"leads"}})}
	e.srv.OnEvent(func(ev localaws.PublishedEvent) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.events = append(e.events, ev)
	})
	hs := httptest.NewServer(e.srv)
	t.Cleanup(hs.Close)
	cfg := localaws.Config(hs.URL)
	cfg.RetryMaxAttempts = 1
	e.eb = eventbridge.NewFromConfig(cfg)
	return e
}

func (e *ebEnv) published() []localaws.PublishedEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]localaws.PublishedEvent(nil), e.events...)
}

func ebEntry(detail string) ebtypes.PutEventsRequestEntry {
	return ebtypes.PutEventsRequestEntry{Source: aws.String("rocketlead.ingress"), DetailType: aws.String("table.entry.added"), Detail: aws.String(detail)}
}

func TestPutEventsValidatesEntriesLikeEventBridge(t *testing.T) {
	tests := []struct {
		name     string
		entry    func() ebtypes.PutEventsRequestEntry
		wantCode string
	}{
		{"valid", func() ebtypes.PutEventsRequestEntry { return ebEntry(`{"a":1}`) }, ""},
		{"no source", func() ebtypes.PutEventsRequestEntry { e := ebEntry(`{}`); e.Source = nil; return e }, "InvalidArgument"},
		{"no detail type", func() ebtypes.PutEventsRequestEntry { e := ebEntry(`{}`); e.DetailType = aws.String(""); return e }, "InvalidArgument"},
		{"no detail", func() ebtypes.PutEventsRequestEntry { e := ebEntry(""); e.Detail = nil; return e }, "InvalidArgument"},
		{"detail not JSON", func() ebtypes.PutEventsRequestEntry { return ebEntry(`{"a":`) }, "MalformedDetail"},
		{"detail an array", func() ebtypes.PutEventsRequestEntry { return ebEntry(`[1]`) }, "MalformedDetail"},
		{"detail a string", func() ebtypes.PutEventsRequestEntry { return ebEntry(`"x"`) }, "MalformedDetail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEBEnv(t)
			out, err := e.eb.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{ebEntry(`{"ok":true}`), tt.entry()}})
			if err != nil {
				t.Fatalf("PutEvents = %v; want a response", err)
			}
			if len(out.Entries) != 2 || out.Entries[0].EventId == nil {
				t.Fatalf("Entries = %+v; want two, the first accepted", out.Entries)
			}
			got := aws.ToString(out.Entries[1].ErrorCode)
			wantFailed := int32(0)
			if tt.wantCode != "" {
				wantFailed = 1
			}
			if got != tt.wantCode || out.FailedEntryCount != wantFailed || (got == "") != (out.Entries[1].EventId != nil) {
				t.Errorf("second entry code %q, FailedEntryCount %d; want %q, %d", got, out.FailedEntryCount, tt.wantCode, wantFailed)
			}
			if n := len(e.published()); n != 2-int(wantFailed) {
				t.Errorf("%d events observed; want only the accepted ones", n)
			}
		})
	}
}

func TestPutEventsRejectsRequestsOverTheLimits(t *testing.T) {
	eleven := make([]ebtypes.PutEventsRequestEntry, 11)
	for i := range eleven {
		eleven[i] = ebEntry(`{}`)
	}
	big := `{"x":"` + strings.Repeat("a", 130<<10) + `"}`
	tests := []struct {
		name    string
		entries []ebtypes.PutEventsRequestEntry
	}{
		{"no entries", []ebtypes.PutEventsRequestEntry{}},
		{"eleven entries", eleven},
		{"over 256 KB in total", []ebtypes.PutEventsRequestEntry{ebEntry(big), ebEntry(big)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEBEnv(t)
			_, err := e.eb.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: tt.entries})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
				t.Errorf("PutEvents(%s) = %v; want ValidationException", tt.name, err)
			}
			if n := len(e.published()); n != 0 {
				t.Errorf("%d events observed from a rejected request", n)
			}
		})
	}
}

func TestPutEventsReportsBusAndInjectedFailures(t *testing.T) {
	e := newEBEnv(t)
	e.srv.FailEvents(func(ev localaws.PublishedEvent) (string, string) {
		if strings.Contains(string(ev.Detail), `"fail":true`) {
			return "ThrottlingException", "Rate exceeded"
		}
		return "", ""
	})
	entries := make([]ebtypes.PutEventsRequestEntry, 10)
	for i := range entries {
		entries[i] = ebEntry(fmt.Sprintf(`{"i":%d,"fail":%v}`, i, i == 3 || i == 8))
	}
	entries[0].EventBusName = aws.String("leads")
	out, err := e.eb.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	var failed []int
	for i, r := range out.Entries {
		if r.ErrorCode != nil {
			failed = append(failed, i)
		}
	}
	if out.FailedEntryCount != 2 || fmt.Sprint(failed) != "[3 8]" {
		t.Errorf("FailedEntryCount %d, failed %v; want 2, [3 8]", out.FailedEntryCount, failed)
	}
	evs := e.published()
	if len(evs) != 8 || evs[0].EventBusName != "leads" || evs[1].EventBusName != "default" {
		t.Errorf("observed %d events (buses %q, %q); want 8, the first on leads, others on default", len(evs), evs[0].EventBusName, evs[1].EventBusName)
	}
}

// TestEventBusesAreListedAndUnknownOnesAnswerAsEventBridge: ListEventBuses and
// DescribeEventBus answer for "default" and the configured buses; DescribeEventBus on any
// other is ResourceNotFoundException, and PutEvents to it succeeds with an EventId but
// reaches no observer, as EventBridge accepts and drops such an entry.
func TestEventBusesAreListedAndUnknownOnesAnswerAsEventBridge(t *testing.T) {
	e := newEBEnv(t)
	ctx := context.Background()
	list, err := e.eb.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list.EventBuses {
		names = append(names, aws.ToString(b.Name)+" "+aws.ToString(b.Arn))
	}
	if want := "[default arn:aws:events:us-east-1:123456789012:event-bus/default leads arn:aws:events:us-east-1:123456789012:event-bus/leads]"; fmt.Sprint(names) != want {
		t.Errorf("ListEventBuses = %v; want %s", names, want)
	}
	d, err := e.eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("arn:aws:events:us-east-1:123456789012:event-bus/leads")})
	if err != nil || aws.ToString(d.Name) != "leads" {
		t.Errorf("DescribeEventBus(leads ARN) = %v, %v; want leads", d, err)
	}
	_, err = e.eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("nope")})
	var nf *ebtypes.ResourceNotFoundException
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "Event bus nope does not exist.") {
		t.Errorf("DescribeEventBus(nope) = %v; want ResourceNotFoundException: Event bus nope does not exist.", err)
	}
	entry := ebEntry(`{"a":1}`)
	entry.EventBusName = aws.String("nope")
	out, err := e.eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{entry}})
	if err != nil || out.FailedEntryCount != 0 || aws.ToString(out.Entries[0].EventId) == "" {
		t.Fatalf("PutEvents(nope) = %+v, %v; want success with an EventId", out, err)
	}
	if n := len(e.published()); n != 0 {
		t.Errorf("%d events observed on a bus that does not exist; want 0", n)
	}
}
