package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/rocketlead/ingress-webhooks/infra/template"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/ddblocal"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

// List prices, us-east-1, as of 2024: DynamoDB on-demand per million write and read request
// units, HTTP API per million requests, EventBridge PutEvents per million 64 KB chunks,
// Lambda arm64 per GB-second and per million requests. CloudWatch Logs ingestion (standard
// class) per GB, as published in 2026 (unchanged since 2024), a GB taken as 10^9 bytes.
const (
	priceLogsGB     = 0.50
	priceWRU        = 0.625
	priceRRU        = 0.125
	priceHTTPAPI    = 1.00
	priceEvents     = 1.00
	priceLambdaGBs  = 0.0000133334
	priceLambdaReqs = 0.20
	lambdaGB        = 0.25 // 256 MB
)

// meter counts the DynamoDB calls of the handler's clients and sums the capacity DynamoDB
// reports for them (ReturnConsumedCapacity TOTAL on every call).
type meter struct {
	mu            sync.Mutex
	calls         int
	wru, rru      float64
	reportedUnits bool
}

func (m *meter) option(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("Meter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			total := types.ReturnConsumedCapacityTotal
			switch p := in.Parameters.(type) {
			case *dynamodb.GetItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.PutItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.BatchGetItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.TransactWriteItemsInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.UpdateItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.QueryInput:
				p.ReturnConsumedCapacity = total
			}
			out, md, err := next.HandleInitialize(ctx, in)
			var ccs []types.ConsumedCapacity
			switch o := out.Result.(type) {
			case *dynamodb.GetItemOutput:
				ccs = append(ccs, deref(o.ConsumedCapacity)...)
			case *dynamodb.PutItemOutput:
				ccs = append(ccs, deref(o.ConsumedCapacity)...)
			case *dynamodb.UpdateItemOutput:
				ccs = append(ccs, deref(o.ConsumedCapacity)...)
			case *dynamodb.QueryOutput:
				ccs = append(ccs, deref(o.ConsumedCapacity)...)
			case *dynamodb.BatchGetItemOutput:
				ccs = o.ConsumedCapacity
			case *dynamodb.TransactWriteItemsOutput:
				ccs = o.ConsumedCapacity
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			m.calls++
			for _, c := range ccs {
				m.reportedUnits = true
				w, r := aws.ToFloat64(c.WriteCapacityUnits), aws.ToFloat64(c.ReadCapacityUnits)
				if w == 0 && r == 0 {
					// Engines that report only the total: reads for reads, writes for writes.
					switch in.Parameters.(type) {
					case *dynamodb.GetItemInput, *dynamodb.BatchGetItemInput, *dynamodb.QueryInput:
						r = aws.ToFloat64(c.CapacityUnits)
					default:
						w = aws.ToFloat64(c.CapacityUnits)
					}
				}
				m.wru += w
				m.rru += r
			}
			return out, md, err
		}), middleware.Before)
}

func deref(c *types.ConsumedCapacity) []types.ConsumedCapacity {
	if c == nil {
		return nil
	}
	return []types.ConsumedCapacity{*c}
}

func (m *meter) reset() (calls int, wru, rru float64, reported bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	calls, wru, rru, reported = m.calls, m.wru, m.rru, m.reportedUnits
	m.calls, m.wru, m.rru, m.reportedUnits = 0, 0, 0, false
	return
}

// benchLead is a lead body of about size bytes: the known keys email and note, plus extra.
func benchLead(size int, extra string) string {
	head := `{"data":{"email":"ada@example.com",` + extra + `"note":"`
	tail := `"}}`
	return head + strings.Repeat("x", max(size-len(head)-len(tail), 1)) + tail
}

// TestBenchTable prints the one table of make bench (to the file RL_BENCH_OUT): per path
// and lead size, the AWS calls per lead (counted by SDK middleware), the write and read
// units DynamoDB reports (on DynamoDB Local, started here; "—" without Java), the handler's
// time as a multiple of one GetItem measured in the same run, and the cost per million
// leads at list prices. Without RL_BENCH_OUT it is skipped: it is a measurement, not a check.
func TestBenchTable(t *testing.T) {
	out := os.Getenv("RL_BENCH_OUT")
	if out == "" {
		t.Skip("make bench runs it (RL_BENCH_OUT names the table's file)")
	}
	engine := "embedded minidyn (no units: Java or the DynamoDB Local jar missing)"
	if ddblocal.Endpoint() == "" {
		if in, err := ddblocal.Start(context.Background(), ddblocal.Options{}); err == nil {
			t.Cleanup(func() { _ = in.Stop() })
			t.Setenv(ddblocal.EndpointEnv, in.Endpoint)
		} else {
			t.Logf("DynamoDB Local not started: %v", err)
		}
	}
	if ddblocal.Endpoint() != "" {
		engine = "DynamoDB Local"
	}
	m := &meter{}
	f := newFixtureWithConfig(t, func(cfg *aws.Config) { cfg.APIOptions = append(cfg.APIOptions, m.option) })
	ctx := context.Background()
	// The same handler, its lines counted: what the function writes to CloudWatch Logs per
	// request at LOG_LEVEL INFO, as deployed (its physical name, API Gateway's request ids);
	// beside it, the access log line and Lambda's system records the template configures.
	tpl, err := template.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	access, system := accessLogFormat(t, tpl), systemRecordBytes(t, tpl)["IngressFunction"]
	logs := &byteCounter{}
	{
		cfg := f.env.Config.Copy()
		cfg.APIOptions = append(cfg.APIOptions, m.option)
		env := f.env.App
		env.MetricsWriter = logs
		env.FunctionName = budgetStack + "-IngressFunction-Q1w2E3r4T5y6"
		h, err := app.Ingest(ctx, cfg, env, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
		if err != nil {
			t.Fatal(err)
		}
		f.handler = h
	}
	post := func(body, key string) apigw.Response {
		r := f.post(body, f.token)
		r.RequestContext.RequestID = "JLmgHhXLoAMEMXA=" // API Gateway's are 16 characters
		if key != "" {
			r.Headers["idempotency-key"] = key
		}
		resp, err := f.handler(ctx, r)
		if err != nil {
			t.Fatalf("handler: %v", err)
		}
		return resp
	}
	// Warm up: lock email and note, fill the instance's pool cache.
	for range 3 {
		if resp := post(benchLead(500, ""), ""); resp.StatusCode != 201 {
			t.Fatalf("warm-up = %d %s", resp.StatusCode, resp.Body)
		}
	}
	m.reset()

	// The yardstick: one strongly consistent GetItem of the webhook, same client and engine.
	const runs = 15
	db := dynamodb.NewFromConfig(f.env.Config)
	get := &dynamodb.GetItemInput{TableName: aws.String(f.env.App.TableName), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "WEBHOOK#" + f.webhookID}, "sk": &types.AttributeValueMemberS{Value: "WEBHOOK"}}}
	var getTimes []time.Duration
	for range runs {
		start := time.Now()
		if _, err := db.GetItem(ctx, get); err != nil {
			t.Fatal(err)
		}
		getTimes = append(getTimes, time.Since(start))
	}
	getItem := median(getTimes)

	type path struct {
		name    string
		status  int
		event   bool // the lead makes one table.entry.added event
		request func(size, i int) (string, string)
	}
	seq := 0
	paths := []path{
		{"known keys", 201, true, func(size, _ int) (string, string) { return benchLead(size, ""), "" }},
		{"new keys", 201, true, func(size, _ int) (string, string) {
			seq++
			return benchLead(size, fmt.Sprintf(`"k%d":"v",`, seq)), ""
		}},
		{"idempotent first", 201, true, func(size, _ int) (string, string) {
			seq++
			return benchLead(size, ""), fmt.Sprintf("first-%d", seq)
		}},
		{"replay", 201, false, func(size, _ int) (string, string) { return benchLead(size, ""), fmt.Sprintf("replay-%d", size) }},
		{"rejected (400, kept)", 400, false, func(size, _ int) (string, string) {
			return strings.Replace(benchLead(size, ""), `"email":"ada@example.com"`, `"email":5`, 1), ""
		}},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "DynamoDB engine: %s; one GetItem = %.3f ms (median of %d); costs: us-east-1 list prices of 2024, Lambda arm64 256 MB billed at the handler time measured here\n\n", engine, ms(getItem), runs)
	fmt.Fprintf(&b, "| path | lead | AWS calls | write units | read units | handler ÷ GetItem | log bytes | logs $ per million | $ per million leads |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range paths {
		for _, size := range []int{512, 1024, 10240} {
			if p.name == "replay" {
				// The first request with the key, not counted.
				body, key := p.request(size, 0)
				if resp := post(body, key); resp.StatusCode != 201 {
					t.Fatalf("replay's first request = %d %s", resp.StatusCode, resp.Body)
				}
			}
			m.reset()
			logs.reset()
			var times []time.Duration
			for i := range runs {
				body, key := p.request(size, i)
				start := time.Now()
				resp := post(body, key)
				times = append(times, time.Since(start))
				if resp.StatusCode != p.status {
					t.Fatalf("%s %d B: status %d %.200s; want %d", p.name, size, resp.StatusCode, resp.Body, p.status)
				}
			}
			calls, wru, rru, reported := m.reset()
			d := median(times)
			perCalls, perW, perR := float64(calls)/runs, wru/runs, rru/runs
			req := f.post("", "")
			accessLine := access(map[string]string{"requestId": "JLmgHhXLoAMEMXA=", "httpMethod": "POST", "routeKey": req.RouteKey,
				"path": req.RawPath, "status": fmt.Sprint(p.status), "integrationStatus": fmt.Sprint(p.status), "responseLength": "300"})
			logBytes := float64(logs.reset())/runs + float64(len(accessLine)+system)
			logCost := logBytes / 1e9 * priceLogsGB * 1e6
			cost := priceHTTPAPI + priceLambdaReqs + lambdaGB*math.Ceil(ms(d))/1000*priceLambdaGBs*1e6 + logCost
			if p.event {
				cost += priceEvents
			}
			units := "—"
			wCol, rCol := "—", "—"
			if reported {
				cost += perW*priceWRU + perR*priceRRU
				wCol, rCol = fmt.Sprintf("%.1f", perW), fmt.Sprintf("%.1f", perR)
				units = fmt.Sprintf("$%.2f", cost)
			} else {
				units = fmt.Sprintf("$%.2f + DynamoDB", cost)
			}
			fmt.Fprintf(&b, "| %s | %.1f KB | %.1f | %s | %s | %.1f× | %.0f | $%.2f | %s |\n", p.name, float64(size)/1024, perCalls, wCol, rCol,
				float64(d)/float64(getItem), logBytes, logCost, units)
		}
	}
	b.WriteString("\nAWS calls and units are per lead, averaged over " + fmt.Sprint(runs) + " requests of a warm instance; handler time is the median. A cancelled transaction (the replay's) reports no units here.\n")
	b.WriteString("Log bytes: what CloudWatch Logs ingests per request at $0.50 per GB: the ingress function's line (its log line and EMF document at once), " +
		"the API access log line at its typical size and Lambda's system records at the template's level (none at WARN); " +
		"not counted: the entry-events function's line, one per batch of up to 100 leads (about 500 B).\n")
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// byteCounter counts the bytes written to it.
type byteCounter struct {
	mu sync.Mutex
	n  int64
}

func (c *byteCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += int64(len(p))
	return len(p), nil
}

// reset returns the bytes counted since the last reset.
func (c *byteCounter) reset() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = 0
	return n
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
