// Package awstest starts the local AWS endpoints for a test: the embedded DynamoDB with the
// project's table, the Secrets Manager stand-in holding a token key and the EventBridge
// stand-in recording every accepted event, behind an httptest server, with real
// aws-sdk-go-v2 clients pointed at it.
package awstest

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/ddblocal"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

// Names used by every test environment.
const (
	Table    = "rocketlead-test"
	SecretID = "rocketlead/test/token-key"
	TokenKey = "test-token-key-0123456789abcdef0123456789abcdef"
)

// Env is a running set of local AWS endpoints.
type Env struct {
	URL    string
	Server *localaws.Server
	// Faults injects DynamoDB faults on the wire between the clients and the engine; it
	// starts with no rules.
	Faults *faults.Injector
	Config aws.Config
	DB     *dynamodb.Client
	// App is the function configuration that points at this environment.
	App app.Env

	mu     sync.Mutex
	events []localaws.PublishedEvent
}

// Start serves the local AWS endpoints until the test ends and creates the table. DynamoDB
// is the embedded minidyn, or the external engine named by RL_DYNAMODB_ENDPOINT (DynamoDB
// Local in the second pass of make test), reached under an access key unique to this Env
// whatever the clients sign with, so the test gets its own tables there.
func Start(t testing.TB) *Env {
	t.Helper()
	opts := localaws.Options{Secrets: map[string]string{SecretID: TokenKey}}
	if ep := ddblocal.Endpoint(); ep != "" {
		engine, err := localaws.NewEngineProxy(ep, localaws.EngineOptions{
			AccessKey: "rl" + strings.ReplaceAll(uuid.NewString(), "-", ""),
		})
		if err != nil {
			t.Fatalf("dynamodb engine: %v", err)
		}
		opts.DynamoDB = engine
	}
	srv := localaws.New(opts)
	inj := faults.New(srv, faults.Options{})
	hs := httptest.NewServer(inj)
	t.Cleanup(hs.Close)
	cfg := localaws.Config(hs.URL)
	db := dynamodb.NewFromConfig(cfg)
	if err := localaws.CreateTable(context.Background(), db, Table); err != nil {
		t.Fatalf("create table: %v", err)
	}
	e := &Env{
		URL:    hs.URL,
		Server: srv,
		Faults: inj,
		Config: cfg,
		DB:     db,
		// Rate limits that no test reaches unless it is about them (it sets its own).
		App: app.Env{TableName: Table, TokenKeySecretID: SecretID, LogLevel: "ERROR", MetricsWriter: io.Discard,
			RateLimitDefault: "1000", RateBurstDefault: "10000"},
	}
	srv.OnEvent(func(ev localaws.PublishedEvent) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.events = append(e.events, ev)
	})
	return e
}

// Events returns the events the EventBridge stand-in accepted so far, in order.
func (e *Env) Events() []localaws.PublishedEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]localaws.PublishedEvent(nil), e.events...)
}

// StartRelay relays the table's committed entries to handler as stream records until the
// test ends, retrying failed records quickly; Wait on it before counting events. On minidyn
// the records are built from the committed writes; on an external engine they are read from
// its DynamoDB Streams API.
func (e *Env) StartRelay(t testing.TB, handler localaws.StreamHandler) *localaws.Relay {
	t.Helper()
	return e.StartRelayWith(t, handler, localaws.RelayOptions{})
}

// StartRelayWith is StartRelay with the relay's options (its Table is always the test's, and
// a zero RetryDelay is 1ms), e.g. MaxAttempts as the template's event source mapping allows.
func (e *Env) StartRelayWith(t testing.TB, handler localaws.StreamHandler, opts localaws.RelayOptions) *localaws.Relay {
	t.Helper()
	opts.Table = Table
	if opts.RetryDelay == 0 {
		opts.RetryDelay = time.Millisecond
	}
	r := localaws.NewRelay(handler, opts)
	var poller *localaws.StreamPoller
	if ddblocal.Endpoint() == "" {
		e.Server.OnWrite(r.Observe)
	} else {
		// The external engine has a real stream: read it as Lambda would.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p, err := localaws.NewStreamPoller(ctx, e.Config, r, localaws.StreamPollerOptions{Table: Table, Interval: 20 * time.Millisecond})
		if err != nil {
			t.Fatalf("stream poller: %v", err)
		}
		poller = p
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if poller != nil {
			if err := poller.Close(ctx); err != nil {
				t.Errorf("close stream poller: %v", err)
			}
		}
		if err := r.Close(ctx); err != nil {
			t.Errorf("close relay: %v", err)
		}
	})
	return r
}

// coldStartTries is how many times Build runs a function's cold start before failing.
const coldStartTries = 3

// Build runs a function's cold start (build) against cfg and env and returns its handler,
// failing the test when it keeps failing. A cold start reads the token key from Secrets
// Manager under the functions' per-attempt timeout; on a starved machine that call can time
// out, and Lambda answers a failed init by running it again on the next invocation. Build
// does the same, up to coldStartTries times, logging each failure: the setup of a test is
// not what it proves.
func Build[H any](t testing.TB, build app.Builder[H], cfg aws.Config, env app.Env) H {
	t.Helper()
	var err error
	for try := 1; try <= coldStartTries; try++ {
		var h H
		if h, err = build(context.Background(), cfg, env, env.Logger()); err == nil {
			return h
		}
		t.Logf("cold start %d of %d failed: %v", try, coldStartTries, err)
	}
	t.Fatalf("cold start: %v", err)
	var zero H
	return zero
}
