package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/captcha"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
	"github.com/rocketlead/ingress-webhooks/pkg/secretkey"
)

// Env is the functions' configuration, read from environment variables.
type Env struct {
	TableName        string // TABLE_NAME
	TokenKeySecretID string // TOKEN_KEY_SECRET_ID
	LogLevel         string // LOG_LEVEL: DEBUG, INFO, WARN, ERROR
	EventBusName     string // EVENT_BUS_NAME: bus of table.entry.added; empty is "default"
	EventSource      string // EVENT_SOURCE: Source of table.entry.added; empty is rocketlead.ingress
	PublicBaseURL    string // PUBLIC_BASE_URL: base of webhook URLs in admin responses; empty is the request's domain and stage
	FunctionName     string // AWS_LAMBDA_FUNCTION_NAME: set by Lambda; the FunctionName of logs and metrics
	MetricsNamespace string // METRICS_NAMESPACE: CloudWatch namespace of the EMF metrics; empty is DefaultMetricsNamespace
	// MetricsWriter receives the request and batch lines (each an EMF document); nil is
	// standard output, where Lambda and the local runner expect them.
	MetricsWriter io.Writer
	// RejectedRetentionDays (REJECTED_RETENTION_DAYS) is how long refused requests are
	// kept; empty is 14 days.
	RejectedRetentionDays string
	// PoolCacheSeconds (POOL_CACHE_SECONDS) is how long the ingest function trusts a pool and
	// the custom fields it read; empty is lead.DefaultPoolCacheTTL, 0 reads them on every
	// request.
	PoolCacheSeconds string
	// CaptchaVerifyURL (CAPTCHA_VERIFY_URL), when set, replaces every CAPTCHA provider's
	// siteverify URL: the local runner's stand-in, or a test's.
	CaptchaVerifyURL string
	// RateLimitDefault (RATE_LIMIT_DEFAULT) is the rate limit, in requests per second, of
	// a webhook that sets none; empty is lead.DefaultRateLimit. RateBurstDefault
	// (RATE_BURST_DEFAULT) is its burst; empty is twice the limit.
	RateLimitDefault string
	RateBurstDefault string
}

// DefaultMetricsNamespace is the CloudWatch namespace of the metrics when METRICS_NAMESPACE
// is empty.
const DefaultMetricsNamespace = "RocketLead/IngressWebhooks"

// EnvFrom reads the configuration through getenv (os.Getenv in Lambda), naming every
// required variable that is missing.
func EnvFrom(getenv func(string) string, required ...string) (Env, error) {
	e := Env{
		TableName:        getenv("TABLE_NAME"),
		TokenKeySecretID: getenv("TOKEN_KEY_SECRET_ID"),
		LogLevel:         getenv("LOG_LEVEL"),
		EventBusName:     getenv("EVENT_BUS_NAME"),
		EventSource:      getenv("EVENT_SOURCE"),
		PublicBaseURL:    getenv("PUBLIC_BASE_URL"),
		FunctionName:     getenv("AWS_LAMBDA_FUNCTION_NAME"),
		MetricsNamespace: getenv("METRICS_NAMESPACE"),

		RejectedRetentionDays: getenv("REJECTED_RETENTION_DAYS"),
		PoolCacheSeconds:      getenv("POOL_CACHE_SECONDS"),
		CaptchaVerifyURL:      getenv("CAPTCHA_VERIFY_URL"),
		RateLimitDefault:      getenv("RATE_LIMIT_DEFAULT"),
		RateBurstDefault:      getenv("RATE_BURST_DEFAULT"),
	}
	var missing []string
	for _, name := range required {
		if getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return e, fmt.Errorf("missing environment variables: %s", strings.Join(missing, ", "))
	}
	return e, nil
}

// Logger returns the JSON logger of the functions at the configured level.
func (e Env) Logger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(e.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Metrics returns the EMF emitter of the function: its namespace, and FunctionName as the
// dimension of every metric.
func (e Env) Metrics() *metrics.Emitter {
	ns := e.MetricsNamespace
	if ns == "" {
		ns = DefaultMetricsNamespace
	}
	w := e.MetricsWriter
	if w == nil {
		w = os.Stdout
	}
	return metrics.New(w, ns, metrics.Dimension{Name: "FunctionName", Value: e.FunctionName})
}

// observed wraps an HTTP handler so that each request writes one line, its log line and
// EMF document at once.
func observed(env Env, logger *slog.Logger, h apigw.Endpoint) apigw.Handler {
	return apigw.Observe(h, apigw.Observer{Function: env.FunctionName, Logger: logger, Metrics: env.Metrics()})
}

// Ingest builds the public ingest handler: it reads the token key from Secrets Manager
// once, here, at cold start.
func Ingest(ctx context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	cfg = withCallCounting(cfg)
	keys, err := loadKeys(ctx, cfg, env)
	if err != nil {
		return nil, err
	}
	ttl, err := env.poolCacheTTL()
	if err != nil {
		return nil, err
	}
	store := dynamo.New(dynamodb.NewFromConfig(cfg), env.TableName).WithSealer(keys.sealer)
	svc, err := ingestService(store, env, keys.hasher)
	if err != nil {
		return nil, err
	}
	svc.Sealer, svc.Deliveries = keys.sealer, store
	svc.Store = lead.NewPoolCache(svc.Store, ttl)
	svc.Captcha = captcha.New(env.CaptchaVerifyURL)
	rates, err := env.RateDefaults()
	if err != nil {
		return nil, err
	}
	// One limiter per built handler: one Lambda instance's counts.
	svc.Limiter, svc.RateStore = lead.NewLimiter(rates, store), store
	return observed(env, logger, apigw.IngestHandler(svc)), nil
}

// ingestService is the ingest service on the configured table, keeping refused requests.
func ingestService(store *dynamo.Store, env Env, hasher *lead.Hasher) (*lead.IngestService, error) {
	svc := lead.NewIngestService(store, hasher)
	svc.Rejected = store
	if env.RejectedRetentionDays != "" {
		days, err := strconv.Atoi(env.RejectedRetentionDays)
		if err != nil || days < 1 {
			return nil, fmt.Errorf("REJECTED_RETENTION_DAYS = %q: want a whole number of days, at least 1", env.RejectedRetentionDays)
		}
		svc.RejectedRetention = time.Duration(days) * 24 * time.Hour
	}
	return svc, nil
}

// poolCacheTTL is POOL_CACHE_SECONDS as a duration, lead.DefaultPoolCacheTTL when empty.
func (e Env) poolCacheTTL() (time.Duration, error) {
	if e.PoolCacheSeconds == "" {
		return lead.DefaultPoolCacheTTL, nil
	}
	secs, err := strconv.Atoi(e.PoolCacheSeconds)
	if err != nil || secs < 0 || secs > 300 {
		return 0, fmt.Errorf("POOL_CACHE_SECONDS = %q: want a whole number of seconds from 0 to 300", e.PoolCacheSeconds)
	}
	return time.Duration(secs) * time.Second, nil
}

// RateDefaults are RATE_LIMIT_DEFAULT and RATE_BURST_DEFAULT, lead.DefaultRates when empty
// (a burst of twice the limit when only the limit is set).
func (e Env) RateDefaults() (lead.RateDefaults, error) {
	d := lead.DefaultRates()
	if e.RateLimitDefault != "" {
		n, err := strconv.Atoi(e.RateLimitDefault)
		if err != nil {
			return d, fmt.Errorf("RATE_LIMIT_DEFAULT = %q: want a whole number of requests per second", e.RateLimitDefault)
		}
		d.Limit, d.Burst = n, 2*n
	}
	if e.RateBurstDefault != "" {
		n, err := strconv.Atoi(e.RateBurstDefault)
		if err != nil {
			return d, fmt.Errorf("RATE_BURST_DEFAULT = %q: want a whole number of requests", e.RateBurstDefault)
		}
		d.Burst = n
	}
	if err := d.Check(); err != nil {
		return d, fmt.Errorf("RATE_LIMIT_DEFAULT, RATE_BURST_DEFAULT: %w", err)
	}
	return d, nil
}

// serverKeys are the two uses of the Secrets Manager key: the token HMAC (the key itself,
// as ever, so stored token hashes stay valid) and the sealer of the secrets the service must
// use in the clear, vendor signing secrets and CAPTCHA secrets (an HKDF subkey, info
// "secret-seal").
type serverKeys struct {
	hasher *lead.Hasher
	sealer *secretkey.Sealer
}

// loadKeys reads the server-side key from Secrets Manager, once per cold start.
func loadKeys(ctx context.Context, cfg aws.Config, env Env) (serverKeys, error) {
	key, err := secretkey.Load(ctx, secretsmanager.NewFromConfig(cfg), env.TokenKeySecretID)
	if err != nil {
		return serverKeys{}, err
	}
	hasher, err := lead.NewHasher(key)
	if err != nil {
		return serverKeys{}, err
	}
	sealer, err := secretkey.NewSealer(key)
	if err != nil {
		return serverKeys{}, err
	}
	return serverKeys{hasher: hasher, sealer: sealer}, nil
}
