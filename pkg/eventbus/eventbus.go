package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// PutEvents limits: at most MaxBatchEntries entries per request, and the entries of one
// request (Source, DetailType, Detail and Resources, in UTF-8 bytes) at most MaxRequestBytes.
// An entry on its own must therefore fit MaxRequestBytes too.
const (
	MaxBatchEntries = 10
	MaxRequestBytes = 256 * 1024
)

// API is the part of the EventBridge API the publisher calls; *eventbridge.Client
// implements it.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher publishes table.entry.added events on one event bus.
type Publisher struct {
	api    API
	bus    string
	source string
	logger *slog.Logger
}

// New returns a Publisher that puts events with the given Source on the named bus
// ("default" is the account's default bus). A nil logger discards the log.
func New(api API, busName, source string, logger *slog.Logger) *Publisher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{api: api, bus: busName, source: source, logger: logger}
}

// EntryError is the failure EventBridge reported for one entry of an accepted request.
type EntryError struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *EntryError) Error() string {
	return fmt.Sprintf("event rejected by EventBridge: %s: %s", e.Code, e.Message)
}

// pending is one event ready to send, with the index of the event it stands for.
type pending struct {
	index int
	entry types.PutEventsRequestEntry
	size  int
}

// ErrNotSent fails the events Publish did not send because an earlier one failed.
var ErrNotSent = errors.New("not sent: an earlier event of the batch failed")

// Publish puts one table.entry.added event per element of events and returns one error per
// element: nil only for an event EventBridge accepted (an EventId and no ErrorCode). A failed
// call fails every event of its request; FailedEntryCount and per-entry error codes fail
// exactly the entries they name. An event larger than MaxRequestBytes is published as its
// lead.EntryAddedRef instead, never dropped.
//
// Requests go out in the order of events, and none after a request with a failed event: the
// later events fail with ErrNotSent. Their stream records are retried anyway (Lambda retries
// a stream batch from its first reported record on), so sending them would publish them
// twice, and a throttled or failing bus is not called again in the same invocation.
func (p *Publisher) Publish(ctx context.Context, events []lead.EntryAdded) []error {
	errs := make([]error, len(events))
	var batch []pending
	batchBytes := 0
	failed := false
	flush := func() {
		if len(batch) > 0 && !failed {
			failed = !p.put(ctx, batch, errs)
		}
		batch, batchBytes = nil, 0
	}
	for i, ev := range events {
		if failed {
			errs[i] = ErrNotSent
			continue
		}
		pe, err := p.entry(ev)
		if err != nil {
			errs[i] = err
			flush()
			failed = true
			continue
		}
		pe.index = i
		if len(batch) == MaxBatchEntries || batchBytes+pe.size > MaxRequestBytes {
			flush()
			if failed {
				errs[i] = ErrNotSent
				continue
			}
		}
		batch = append(batch, pe)
		batchBytes += pe.size
	}
	flush()
	return errs
}

// entry renders one event as a PutEvents entry, as a reference when the full form is too
// large for the bus.
func (p *Publisher) entry(ev lead.EntryAdded) (pending, error) {
	if ev.Entry == nil {
		return pending{}, fmt.Errorf("table.entry.added without an entry")
	}
	detail, err := json.Marshal(wire.ViewEntryAdded(ev))
	if err != nil {
		return pending{}, fmt.Errorf("encode table.entry.added for entry %s: %w", ev.Entry.ID, err)
	}
	size := p.size(detail)
	if size > MaxRequestBytes {
		// Dropping it would break "an event per committed entry": publish the ids and let
		// consumers read the entry.
		full := size
		if detail, err = json.Marshal(wire.ViewEntryAddedRef(ev.Ref())); err != nil {
			return pending{}, fmt.Errorf("encode table.entry.added reference for entry %s: %w", ev.Entry.ID, err)
		}
		size = p.size(detail)
		p.logger.Warn("event too large, publishing a reference", "entryId", ev.Entry.ID,
			"bytes", full, "limit", MaxRequestBytes)
	}
	return pending{
		entry: types.PutEventsRequestEntry{
			EventBusName: aws.String(p.bus),
			Source:       aws.String(p.source),
			DetailType:   aws.String(lead.EntryAddedDetailType),
			Detail:       aws.String(string(detail)),
		},
		size: size,
	}, nil
}

// size is the entry size by EventBridge's rules: Source, DetailType and Detail in UTF-8
// bytes (no Time, no Resources are set).
func (p *Publisher) size(detail []byte) int {
	return len(p.source) + len(lead.EntryAddedDetailType) + len(detail)
}

// put sends one request, records the outcome of each of its entries in errs and reports
// whether every entry was accepted.
func (p *Publisher) put(ctx context.Context, batch []pending, errs []error) bool {
	in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, len(batch))}
	for i, pe := range batch {
		in.Entries[i] = pe.entry
	}
	fail := func(err error) {
		for _, pe := range batch {
			errs[pe.index] = err
		}
	}
	out, err := p.api.PutEvents(ctx, in)
	if err != nil {
		fail(fmt.Errorf("put %d events on bus %s: %w", len(batch), p.bus, err))
		return false
	}
	if len(out.Entries) != len(batch) {
		fail(fmt.Errorf("put %d events on bus %s: %d results", len(batch), p.bus, len(out.Entries)))
		return false
	}
	failed := 0
	for i, res := range out.Entries {
		switch {
		case aws.ToString(res.ErrorCode) != "":
			errs[batch[i].index] = &EntryError{Code: aws.ToString(res.ErrorCode), Message: aws.ToString(res.ErrorMessage)}
			failed++
		case aws.ToString(res.EventId) == "":
			errs[batch[i].index] = fmt.Errorf("put event on bus %s: no event id and no error code", p.bus)
			failed++
		}
	}
	if int(out.FailedEntryCount) > failed {
		// The count says more failed than the entries show: no entry can be trusted.
		fail(fmt.Errorf("put %d events on bus %s: FailedEntryCount %d, %d entries marked failed",
			len(batch), p.bus, out.FailedEntryCount, failed))
	}
	return failed == 0 && out.FailedEntryCount == 0
}
