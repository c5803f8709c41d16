// Command local runs RocketLead Ingress Webhooks on one machine with nothing but Go: an
// embedded DynamoDB, a Secrets Manager stand-in and an EventBridge PutEvents stand-in on one
// AWS address, an API Gateway (HTTP API) front that calls the same handlers the Lambda
// functions run, and a stream relay that hands every committed entry to the entry-events
// handler. Each published event is printed to stdout as one JSON line.
//
//	go run ./infra/local [-addr 127.0.0.1:3000] [-aws-addr 127.0.0.1:4566] [-seed-file PATH] [-events-file PATH]
//	                     [-dynamodb-endpoint URL] [-faults RULES] [-fault-seed N] [-instances N] [-v]
//	make run ARGS='-addr 127.0.0.1:3001 -aws-addr 127.0.0.1:4567'
//
// It runs on a developer machine only. The AWS address also answers the read-only calls a
// user tries first with the AWS CLI: dynamodb list-tables, describe-table, wait table-exists,
// describe-time-to-live, secretsmanager list-secrets, describe-secret, events
// list-event-buses, describe-event-bus; and the entry-events failure queue (sqs
// receive-message, delete-message...), where the relay puts Lambda's failure record for the
// stream records it gives up on, so that `rlctl events redrive` works as in AWS. By default
// it prints one line per request; -v adds the functions' own lines (each request's is its
// metric document too).
//
// -dynamodb-endpoint uses an external DynamoDB engine (e.g. DynamoDB Local) instead of the
// embedded one, with a fresh database per start, and reads its real stream. -faults injects
// DynamoDB and EventBridge PutEvents faults between the functions and the engines, e.g.
// "TransactWriteItems:conflict:0.3,PutItem:lost:#2,*:slow:0.1,PutEvents:partial:0.05"
// (see infra/local/faults). -instances N serves each HTTP function with up to N instances,
// each with state of its own (caches, rate counts) and one request at a time, a new one
// started when all are busy, as Lambda runs them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rocketlead/ingress-webhooks/infra/local/front"
	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
	"github.com/rocketlead/ingress-webhooks/infra/template"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/captcha"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// CaptchaVerifyPath is where the local AWS address serves the CAPTCHA siteverify stand-in.
const CaptchaVerifyPath = "/captcha/siteverify"

// Names the functions see locally; infra/samlocal/env.json uses the same ones.
const (
	localTable    = "rocketlead-local"
	localSecretID = "rocketlead/local/token-key"
	// localFailureQueue stands for EntryEventsFailureQueue: the relay sends Lambda's failure
	// record there when it gives up on stream records.
	localFailureQueue = "rocketlead-local-entry-events-failures"
)

type options struct {
	addr, awsAddr, seedFile, template, eventsFile string
	dynamoEndpoint, faults                        string
	faultSeed                                     uint64
	verbose                                       bool
	// logs receives the log lines (the runner's and the functions'); nil is standard error.
	logs io.Writer
	// instances, when above 0, is the most instances of each HTTP function that serve
	// requests, started as needed and one request at a time each, as Lambda's are.
	instances int
	// rateLimit and rateBurst are the webhooks' default rate limit and burst, as the
	// template's DefaultRateLimit and DefaultRateBurst set them ("": the built-in ones).
	rateLimit, rateBurst string
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:3000", "address of the API front (HOST:PORT)")
	flag.StringVar(&o.awsAddr, "aws-addr", "127.0.0.1:4566", "address of the local AWS endpoints (DynamoDB, Secrets Manager, EventBridge)")
	flag.StringVar(&o.seedFile, "seed-file", "", "write the seeded ids, token and URL as JSON to this file once serving")
	flag.StringVar(&o.template, "template", "template.yaml", "SAM template whose HttpApi routes the front serves")
	flag.StringVar(&o.eventsFile, "events-file", "", "append every published event to this file as one JSON line")
	flag.StringVar(&o.dynamoEndpoint, "dynamodb-endpoint", "", "external DynamoDB engine URL (e.g. DynamoDB Local) instead of the embedded one")
	flag.StringVar(&o.faults, "faults", "", "DynamoDB and PutEvents faults to inject, Op:kind:probability or Op:kind:#N, comma-separated (kinds: conflict, throttle, throughput, error, slow, lost, late; partial for PutEvents; Op:slow|late:when:latency sets the delay)")
	flag.Uint64Var(&o.faultSeed, "fault-seed", 1, "seed of the fault injector, for a repeatable run")
	flag.IntVar(&o.instances, "instances", 0, "serve each HTTP function with up to N instances, each with state of its own and one request at a time, a new one started when all are busy, as Lambda does (0: one handler takes every request at once)")
	flag.StringVar(&o.rateLimit, "rate-limit", "", "default rate limit of a webhook, requests per second (as the DefaultRateLimit parameter; empty: 20)")
	flag.StringVar(&o.rateBurst, "rate-burst", "", "default burst of a webhook (as DefaultRateBurst; empty: twice the limit)")
	flag.BoolVar(&o.verbose, "v", false, "print every line of the functions (a request's is its metric document too); without it, one line per request, warnings and errors (a failed request's own line), and the events")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	logs := o.logs
	if logs == nil {
		logs = os.Stderr
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	key, err := lead.NewToken() // a fresh hashing key per run: the data lives only as long
	if err != nil {
		return err
	}
	engine, err := dynamoEngine(o.dynamoEndpoint)
	if err != nil {
		return err
	}
	awsSrv := localaws.New(localaws.Options{Secrets: map[string]string{localSecretID: key}, Logger: logger, DynamoDB: engine,
		Queues: []string{localFailureQueue}})
	injector, err := faultInjector(awsSrv, o.faults, o.faultSeed, logger)
	if err != nil {
		return err
	}
	evlog, err := openEventLog(out, o.eventsFile, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := evlog.close(); err != nil {
			logger.Error("events file", "err", err)
		}
	}()
	awsSrv.OnEvent(evlog.write)
	awsLn, err := net.Listen("tcp", o.awsAddr)
	if err != nil {
		return fmt.Errorf("listen for AWS endpoints on %s: %w", o.awsAddr, err)
	}
	// The CAPTCHA providers' stand-in (siteverify) shares the AWS address: it accepts
	// captcha.TestToken and refuses anything else.
	awsMux := http.NewServeMux()
	awsMux.Handle(CaptchaVerifyPath, captcha.StandIn())
	awsMux.Handle("/", injector)
	awsHTTP := &http.Server{Handler: awsMux, ReadHeaderTimeout: 10 * time.Second}
	go serve(awsHTTP, awsLn, logger)
	defer shutdown(awsHTTP)

	cfg := localaws.Config("http://" + awsLn.Addr().String())
	db := dynamodb.NewFromConfig(cfg)
	if err := localaws.CreateTable(ctx, db, localTable); err != nil {
		return fmt.Errorf("create table: %w", err)
	}

	env := app.Env{TableName: localTable, TokenKeySecretID: localSecretID, LogLevel: "INFO",
		CaptchaVerifyURL: "http://" + awsLn.Addr().String() + CaptchaVerifyPath,
		RateLimitDefault: o.rateLimit, RateBurstDefault: o.rateBurst}
	// By default one line per request (the front's) stands for it; -v adds the functions'
	// own lines (each request's is also its EMF document), as CloudWatch would receive them.
	// Without -v a function's own line is printed for a failure only (a 5xx's request line).
	fnLevel := slog.LevelWarn
	env.MetricsWriter = failureLines{evlog}
	if o.verbose {
		// On stdout like Lambda's, through the event log's lock so lines never interleave.
		fnLevel, env.MetricsWriter = slog.LevelInfo, evlog
	}
	fnLogger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: fnLevel}))
	if o.instances < 0 {
		return fmt.Errorf("-instances %d: want 0 or more", o.instances)
	}
	handlers, entryEvents, err := buildHandlers(ctx, cfg, env, fnLogger, o.instances)
	if err != nil {
		return err
	}
	// Stands in for the table's stream and the event source mapping of EntryEventsFunction.
	relay := localaws.NewRelay(localaws.StreamHandler(entryEvents), localaws.RelayOptions{Table: localTable, Logger: logger,
		OnFailure: failureDestination(awsSrv, localFailureQueue, logger)})
	defer func() {
		// Runs after the API front has shut down, so every committed entry is queued, and
		// before the AWS endpoints stop, so its events can still be put.
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := relay.Close(cctx); err != nil {
			logger.Error("stream relay", "err", err)
		}
	}()
	stopFeed, err := connectRelay(ctx, engine != nil, awsSrv, cfg, localTable, relay, logger)
	if err != nil {
		return err
	}
	defer stopFeed()
	tpl, err := template.Load(o.template)
	if err != nil {
		return err
	}
	routes, err := tpl.Routes()
	if err != nil {
		return err
	}
	fr, err := front.New(routes, handlers, logger)
	if err != nil {
		return err
	}
	apiLn, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen for the API on %s: %w", o.addr, err)
	}
	apiHTTP := &http.Server{Handler: fr, ReadHeaderTimeout: 10 * time.Second}
	go serve(apiHTTP, apiLn, logger)
	defer shutdown(apiHTTP)

	awsSrv.SetRunnerInfo(localaws.RunnerInfo{PublicBaseURL: "http://" + apiLn.Addr().String()})
	s, err := seedData(ctx, db, localTable, []byte(key), "http://"+apiLn.Addr().String())
	if err != nil {
		return err
	}
	if o.seedFile != "" {
		if err := s.writeFile(o.seedFile); err != nil {
			return err
		}
	}
	s.print(evlog, awsLn.Addr().String())
	<-ctx.Done()
	fmt.Fprintln(evlog, "\nstopping")
	return nil
}

func serve(srv *http.Server, ln net.Listener, logger *slog.Logger) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("server stopped", "addr", ln.Addr().String(), "error", err)
	}
}

func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}
