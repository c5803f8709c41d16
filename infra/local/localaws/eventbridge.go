package localaws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

const (
	eventBridgePrefix      = "AWSEvents."
	eventBridgeContentType = "application/x-amz-json-1.1"

	// maxPutEventsEntries and maxPutEventsBytes are EventBridge's PutEvents limits: entries
	// per request, and the summed size of a request's entries.
	maxPutEventsEntries = 10
	maxPutEventsBytes   = 256 * 1024

	defaultEventBus = "default"
)

// PublishedEvent is one PutEvents entry EventBridge accepted, in the shape of the entry
// (Detail as the JSON object it holds). It marshals to one JSON line.
type PublishedEvent struct {
	Source       string          `json:"Source"`
	DetailType   string          `json:"DetailType"`
	Detail       json.RawMessage `json:"Detail"`
	EventBusName string          `json:"EventBusName"`
	Resources    []string        `json:"Resources,omitempty"`
	// EventID is the id the response gave the entry.
	EventID string `json:"-"`
}

// EventFailure decides, for a valid PutEvents entry, whether it fails: a non-empty code
// fails it with that ErrorCode and message, as EventBridge reports a partial failure.
type EventFailure func(ev PublishedEvent) (code, message string)

// OnEvent registers fn to be called with every event a PutEvents request put on a bus, in
// request order, before the response is sent. fn must be quick.
func (s *Server) OnEvent(fn func(ev PublishedEvent)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eventObservers = append(s.eventObservers, fn)
}

// FailEvents is a test aid: it makes PutEvents consult fn for each otherwise valid entry and
// fail those it names, as EventBridge does under throttling or an internal error (the
// request succeeds, FailedEntryCount counts them). nil restores normal service.
func (s *Server) FailEvents(fn EventFailure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eventFailure = fn
}

// putEventsEntryWire is a PutEvents request entry on the wire.
type putEventsEntryWire struct {
	Source       *string  `json:"Source"`
	DetailType   *string  `json:"DetailType"`
	Detail       *string  `json:"Detail"`
	EventBusName *string  `json:"EventBusName"`
	Resources    []string `json:"Resources"`
	Time         *float64 `json:"Time"`
	TraceHeader  *string  `json:"TraceHeader"`
}

// size is the entry's size by EventBridge's rules ("Calculating PutEvents event entry size").
func (e putEventsEntryWire) size() int {
	n := 0
	if e.Time != nil {
		n += 14
	}
	for _, p := range []*string{e.Source, e.DetailType, e.Detail} {
		if p != nil {
			n += len(*p)
		}
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

type putEventsResultWire struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// eventBusARN is the ARN of a local event bus.
func eventBusARN(name string) string {
	return fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", localRegion, localAccount, name)
}

// busName reads an event bus name or ARN as EventBridge does: the name is what follows
// "event-bus/" in an ARN.
func busName(nameOrARN string) string {
	if _, name, ok := strings.Cut(nameOrARN, ":event-bus/"); ok && strings.HasPrefix(nameOrARN, "arn:") {
		return name
	}
	return nameOrARN
}

// knownBus reports whether the local account has the event bus: "default" and those of
// Options.EventBuses.
func (s *Server) knownBus(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return name == defaultEventBus || slices.Contains(s.eventBuses, name)
}

func (s *Server) serveEventBridge(w http.ResponseWriter, r *http.Request, op string) {
	switch op {
	case "PutEvents":
	case "ListEventBuses":
		s.listEventBuses(w, r)
		return
	case "DescribeEventBus":
		s.describeEventBus(w, r)
		return
	case "CreateEventBus":
		s.createEventBus(w, r)
		return
	default:
		s.logger.Warn("localaws: unsupported eventbridge operation", "op", op)
		writeAWSError(w, eventBridgeContentType, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("operation %s is not supported locally", op))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil || len(body) > maxRequestBody {
		writeAWSError(w, eventBridgeContentType, http.StatusBadRequest, "ValidationException", "cannot read request body")
		return
	}
	var in struct {
		Entries []putEventsEntryWire `json:"Entries"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeAWSError(w, eventBridgeContentType, http.StatusBadRequest, "SerializationException", "request body is not a PutEvents request")
		return
	}
	if n := len(in.Entries); n < 1 || n > maxPutEventsEntries {
		writeAWSError(w, eventBridgeContentType, http.StatusBadRequest, "ValidationException",
			fmt.Sprintf("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and %d", maxPutEventsEntries))
		return
	}
	total := 0
	for _, e := range in.Entries {
		total += e.size()
	}
	if total > maxPutEventsBytes {
		writeAWSError(w, eventBridgeContentType, http.StatusBadRequest, "ValidationException",
			"Total size of the entries in the request is over the limit.")
		return
	}

	s.mu.Lock()
	failure := s.eventFailure
	observers := append([](func(PublishedEvent)){}, s.eventObservers...)
	s.mu.Unlock()

	results := make([]putEventsResultWire, len(in.Entries))
	accepted := make([]PublishedEvent, 0, len(in.Entries))
	failed := 0
	for i, e := range in.Entries {
		ev, code, msg := validateEntry(e)
		if code == "" && failure != nil {
			code, msg = failure(ev)
		}
		if code != "" {
			results[i] = putEventsResultWire{ErrorCode: code, ErrorMessage: msg}
			failed++
			continue
		}
		ev.EventID = uuid.NewString()
		results[i] = putEventsResultWire{EventID: ev.EventID}
		if !s.knownBus(ev.EventBusName) {
			// EventBridge does the same: an entry for a bus that does not exist gets an
			// EventId and goes nowhere (no error, FailedEntryCount 0). Say so here at least.
			s.logger.Warn("localaws: event bus does not exist: the event is accepted and delivered nowhere, as EventBridge does",
				"eventBus", ev.EventBusName, "eventId", ev.EventID)
			continue
		}
		accepted = append(accepted, ev)
	}
	s.logger.Debug("localaws: eventbridge", "op", op, "entries", len(in.Entries), "failed", failed)
	for _, ev := range accepted {
		for _, fn := range observers {
			fn(ev)
		}
	}
	writeJSON(w, eventBridgeContentType, http.StatusOK, struct {
		FailedEntryCount int                   `json:"FailedEntryCount"`
		Entries          []putEventsResultWire `json:"Entries"`
	}{failed, results})
}

// validateEntry checks one entry as EventBridge does and returns it as published, or the
// per-entry error code and message.
func validateEntry(e putEventsEntryWire) (ev PublishedEvent, code, message string) {
	switch {
	case e.Source == nil || *e.Source == "":
		return ev, "InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument."
	case e.DetailType == nil || *e.DetailType == "":
		return ev, "InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."
	case e.Detail == nil || *e.Detail == "":
		return ev, "InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument."
	}
	detail := []byte(*e.Detail)
	if !utf8.Valid(detail) || !json.Valid(detail) || !isObject(detail) {
		return ev, "MalformedDetail", "Detail is malformed."
	}
	bus := defaultEventBus
	if e.EventBusName != nil && *e.EventBusName != "" {
		bus = busName(*e.EventBusName)
	}
	return PublishedEvent{
		Source:       *e.Source,
		DetailType:   *e.DetailType,
		Detail:       json.RawMessage(detail),
		EventBusName: bus,
		Resources:    e.Resources,
	}, "", ""
}

func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

type eventBusWire struct {
	Name string `json:"Name"`
	Arn  string `json:"Arn"`
}

// listEventBuses answers ListEventBuses: the local buses whose name starts with NamePrefix.
func (s *Server) listEventBuses(w http.ResponseWriter, r *http.Request) {
	var in struct {
		NamePrefix string `json:"NamePrefix"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&in); err != nil && !errors.Is(err, io.EOF) {
		writeAWSError(w, eventBridgeContentType, http.StatusBadRequest, "SerializationException", "request body is not a ListEventBuses request")
		return
	}
	buses := []eventBusWire{}
	s.mu.Lock()
	names := append([]string{defaultEventBus}, s.eventBuses...)
	s.mu.Unlock()
	for _, name := range names {
		if strings.HasPrefix(name, in.NamePrefix) {
			buses = append(buses, eventBusWire{Name: name, Arn: eventBusARN(name)})
		}
	}
	writeJSON(w, eventBridgeContentType, http.StatusOK, map[string]any{"EventBuses": buses})
}

// describeEventBus answers DescribeEventBus (Name omitted: the default bus); a bus that
// does not exist is EventBridge's ResourceNotFoundException.
func (s *Server) describeEventBus(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"Name"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&in); err != nil && !errors.Is(err, io.EOF) {
		writeAWSError(w, eventBridgeContentType, http.StatusBadRequest, "SerializationException", "request body is not a DescribeEventBus request")
		return
	}
	name := busName(in.Name)
	if name == "" {
		name = defaultEventBus
	}
	if !s.knownBus(name) {
		writeAWSError(w, eventBridgeContentType, http.StatusBadRequest, "ResourceNotFoundException",
			fmt.Sprintf("Event bus %s does not exist.", name))
		return
	}
	writeJSON(w, eventBridgeContentType, http.StatusOK, eventBusWire{Name: name, Arn: eventBusARN(name)})
}

// createEventBus answers CreateEventBus: a bus of that name from then on; one that exists
// already is EventBridge's ResourceAlreadyExistsException.
func (s *Server) createEventBus(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"Name"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&in); err != nil || in.Name == "" {
		writeAWSError(w, eventBridgeContentType, http.StatusBadRequest, "ValidationException", "CreateEventBus needs a Name")
		return
	}
	s.mu.Lock()
	exists := in.Name == defaultEventBus || slices.Contains(s.eventBuses, in.Name)
	if !exists {
		s.eventBuses = append(s.eventBuses, in.Name)
	}
	s.mu.Unlock()
	if exists {
		writeAWSError(w, eventBridgeContentType, http.StatusBadRequest, "ResourceAlreadyExistsException",
			fmt.Sprintf("Event bus %s already exists.", in.Name))
		return
	}
	writeJSON(w, eventBridgeContentType, http.StatusOK, map[string]string{"EventBusArn": eventBusARN(in.Name)})
}
