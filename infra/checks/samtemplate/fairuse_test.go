package samtemplate_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/infra/template"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
)

// Fair use around the per-webhook rate limit: the stage and the ingress function leave
// room for every webhook at its limit, and the operator sees (dashboard) and hears (alarm)
// which webhook is throttled.

// insightsQuery is a CloudWatch Metrics Insights query as the template writes one:
// SELECT FN(Metric) FROM SCHEMA("ns", Dim, ...) [WHERE Dim = 'v'] [GROUP BY Dim] [ORDER BY FN() DESC|ASC] [LIMIT n].
type insightsQuery struct {
	fn, metric, namespace string
	schema                []string
	whereKey, whereValue  string
	groupBy               string
	orderBy, order        string
	limit                 int
}

var insightsQueryRE = regexp.MustCompile(`^SELECT (SUM|MAX|MIN|AVG|COUNT)\((\w+)\) FROM SCHEMA\("([^"]+)"((?:, \w+)*)\)` +
	`(?: WHERE (\w+) = '([^']*)')?(?: GROUP BY (\w+))?(?: ORDER BY (SUM|MAX|MIN|AVG|COUNT)\(\) (DESC|ASC))?(?: LIMIT (\d+))?$`)

// parseInsightsQuery parses q, or reports false when it is not a query of that form.
func parseInsightsQuery(q string) (insightsQuery, bool) {
	m := insightsQueryRE.FindStringSubmatch(q)
	if m == nil {
		return insightsQuery{}, false
	}
	out := insightsQuery{fn: m[1], metric: m[2], namespace: m[3], whereKey: m[5], whereValue: m[6], groupBy: m[7], orderBy: m[8], order: m[9]}
	for _, d := range strings.Split(m[4], ",") {
		if d = strings.TrimSpace(d); d != "" {
			out.schema = append(out.schema, d)
		}
	}
	if m[10] != "" {
		out.limit, _ = strconv.Atoi(m[10])
	}
	return out, true
}

// The per-webhook throttle metric and its dimension beside FunctionName.
const (
	throttledMetric    = apigw.MetricThrottled
	throttledDimension = apigw.DimensionWebhook
)

// insightsDimensions are the dimension sets the code emits a metric under when that metric
// is read by a Metrics Insights query (SCHEMA matches exactly that set of dimensions).
var insightsDimensions = map[string][]string{
	throttledMetric: {"FunctionName", throttledDimension},
}

// checkInsightsQuery fails unless q reads an emitted metric of the service's namespace
// (written ns) under the dimension set the code emits it with.
func checkInsightsQuery(t *testing.T, where, q, ns string) insightsQuery {
	t.Helper()
	p, ok := parseInsightsQuery(q)
	if !ok {
		t.Errorf("%s: %q is not a Metrics Insights query this test understands", where, q)
		return p
	}
	if p.namespace != ns {
		t.Errorf("%s: query reads namespace %q; want %s", where, p.namespace, ns)
	}
	if !slices.Contains(emittedMetrics, p.metric) {
		t.Errorf("%s: query reads %s, which the code does not emit", where, p.metric)
	}
	if want, ok := insightsDimensions[p.metric]; !ok || !slices.Equal(p.schema, want) {
		t.Errorf("%s: query reads %s under dimensions %v; the code emits it under %v", where, p.metric, p.schema, want)
	}
	return p
}

// defaultOf returns the default of a template parameter, failing when it has none.
func defaultOf(t *testing.T, name string) string {
	t.Helper()
	d := child(child(rawParameters(t), name), "Default")
	if d == nil {
		t.Fatalf("parameter %s has no default", name)
	}
	return d.Value
}

func numericDefault(t *testing.T, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(defaultOf(t, name), 64)
	if err != nil {
		t.Fatalf("parameter %s default %q is not a number", name, defaultOf(t, name))
	}
	return v
}

// The account's default quotas the defaults are sized against: API Gateway's regional
// throttle (shared by every API of the account and region) and Lambda's concurrency, of
// which AWS keeps 100 unreserved.
const (
	accountAPIRate        = 10000
	accountAPIBurst       = 5000
	accountConcurrency    = 1000
	unreservedConcurrency = 100
	// A warm ingest takes tens of milliseconds; the reserved concurrency is sized for a
	// tenth of a second per request, doubled.
	ingestSecondsForSizing = 0.1
)

func TestStageThrottleAndIngressConcurrencyLeaveHeadroom(t *testing.T) {
	rate, burst := numericDefault(t, "StageThrottleRate"), numericDefault(t, "StageThrottleBurst")
	webhookRate, webhookBurst := numericDefault(t, "DefaultRateLimit"), numericDefault(t, "DefaultRateBurst")
	// Well above one webhook: many webhooks at their limit together before the stage's 429.
	if rate < 10*webhookRate || burst < 10*webhookBurst {
		t.Errorf("stage throttle %v/s burst %v: want at least 10 webhooks at their default limit %v/s burst %v", rate, burst, webhookRate, webhookBurst)
	}
	if rate > accountAPIRate || burst > accountAPIBurst {
		t.Errorf("stage throttle %v/s burst %v is above the account's API Gateway quota %d/s burst %d", rate, burst, accountAPIRate, accountAPIBurst)
	}
	params := rawParameters(t)
	for name, max := range map[string]string{"StageThrottleRate": strconv.Itoa(accountAPIRate), "StageThrottleBurst": strconv.Itoa(accountAPIBurst)} {
		if got := flow(path(params, name, "MaxValue")); got != max {
			t.Errorf("%s MaxValue = %s; want the account quota %s", name, got, max)
		}
	}
	reserved := numericDefault(t, "IngressReservedConcurrency")
	if need := rate * ingestSecondsForSizing; reserved < need {
		t.Errorf("IngressReservedConcurrency default %v < StageThrottleRate x %v s = %v: ingest would be throttled by Lambda below the stage's limit", reserved, ingestSecondsForSizing, need)
	}
	if reserved > accountConcurrency-unreservedConcurrency {
		t.Errorf("IngressReservedConcurrency default %v leaves less than %d unreserved of the default %d", reserved, unreservedConcurrency, accountConcurrency)
	}
}

func TestIngressReservedConcurrencyZeroOrEmptyReservesNothing(t *testing.T) {
	doc := rawTemplate(t)
	res := rawResources(t)
	pattern := regexp.MustCompile("^(?:" + flow(path(rawParameters(t), "IngressReservedConcurrency", "AllowedPattern")) + ")$")
	for _, c := range []struct {
		value    string
		allowed  bool
		reserved string // "" when the property is absent
	}{
		{"", true, ""},
		{"0", true, ""},
		{"200", true, "200"},
		{"5", true, "5"},
		{"00", false, ""}, // would reserve 0: no ingest at all
		{"-1", false, ""},
		{"2x", false, ""},
	} {
		if got := pattern.MatchString(c.value); got != c.allowed {
			t.Errorf("IngressReservedConcurrency %q allowed = %v; want %v", c.value, got, c.allowed)
		}
		if !c.allowed {
			continue
		}
		e := newEvaluator(t, doc, map[string]string{"IngressReservedConcurrency": c.value})
		props := e.resolve(t, child(res["IngressFunction"], "Properties"))
		got := ""
		if n := child(props, "ReservedConcurrentExecutions"); n != nil {
			if n.Tag != "!Ref" || n.Value != "IngressReservedConcurrency" {
				t.Fatalf("ReservedConcurrentExecutions = %s; want !Ref IngressReservedConcurrency", flow(n))
			}
			got = e.params[n.Value]
		}
		if got != c.reserved {
			t.Errorf("IngressReservedConcurrency %q: ReservedConcurrentExecutions = %q; want %q (empty: unreserved)", c.value, got, c.reserved)
		}
	}
}

func TestWebhookThrottledAlarmNamesTheWebhookAfterMinutesOnEnd(t *testing.T) {
	alarm := child(rawResources(t)["WebhookThrottledAlarm"], "Properties")
	if alarm == nil {
		t.Fatal("template has no WebhookThrottledAlarm")
	}
	metrics := child(alarm, "Metrics")
	if metrics == nil || len(metrics.Content) != 1 {
		t.Fatalf("WebhookThrottledAlarm Metrics = %s; want one Metrics Insights query", flow(metrics))
	}
	m := metrics.Content[0]
	expr := child(m, "Expression")
	if expr == nil || expr.Tag != "!Sub" {
		t.Fatalf("Expression = %s; want !Sub of a query on ${MetricsNamespace}", flow(expr))
	}
	q := checkInsightsQuery(t, "WebhookThrottledAlarm", expr.Value, "${MetricsNamespace}")
	if q.whereKey != "FunctionName" || q.whereValue != "${IngressFunction}" {
		t.Errorf("query %q: want WHERE FunctionName = '${IngressFunction}'", expr.Value)
	}
	// One contributor per webhook: the alarm says which, and two webhooks throttled in
	// turn never add up to one throttled for minutes on end. Without ORDER BY, which 500
	// series a query returns is not defined.
	if q.fn != "SUM" || q.groupBy != throttledDimension || q.orderBy != "SUM" || q.order != "DESC" || q.limit == 0 {
		t.Errorf("query %q: want SUM(...) GROUP BY %s ORDER BY SUM() DESC LIMIT n", expr.Value, throttledDimension)
	}
	if got := flow(child(m, "ReturnData")); got != "true" {
		t.Errorf("ReturnData = %s; want true", got)
	}
	period, _ := strconv.Atoi(flow(child(m, "Period")))
	evals, _ := strconv.Atoi(flow(child(alarm, "EvaluationPeriods")))
	points, _ := strconv.Atoi(flow(child(alarm, "DatapointsToAlarm")))
	if period != 60 {
		t.Errorf("Period = %d; want 60 (a minute)", period)
	}
	// Minutes on end: every minute of at least five in a row.
	if evals*period < 300 || points != evals {
		t.Errorf("EvaluationPeriods %d, DatapointsToAlarm %d of %d s: want every minute of at least 5 in a row", evals, points, period)
	}
	if got := flow(child(alarm, "Threshold")); got != "0" {
		t.Errorf("Threshold = %s; want 0 (any request over the limit in the minute)", got)
	}
	if got := flow(child(alarm, "ComparisonOperator")); got != "GreaterThanThreshold" {
		t.Errorf("ComparisonOperator = %s; want GreaterThanThreshold", got)
	}
	// The metric is written only when a request is throttled: a quiet minute has no point.
	if got := flow(child(alarm, "TreatMissingData")); got != "notBreaching" {
		t.Errorf("TreatMissingData = %s; want notBreaching", got)
	}
}

func TestDashboardRanksTheTopThrottledWebhooks(t *testing.T) {
	tf, err := template.Load(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := tf.Doc["Resources"].(map[string]any)
	dash, _ := res["Dashboard"].(map[string]any)
	props, _ := dash["Properties"].(map[string]any)
	body, _ := props["DashboardBody"].(string)
	raw := strings.TrimPrefix(body, template.SubMarker)
	// The namespace is substituted inside a JSON string: keep its ${...} to check it.
	text := subVarRE.ReplaceAllStringFunc(raw, func(v string) string {
		switch v {
		case "${MetricsNamespace}":
			return "NS"
		case "${IngressFunction}":
			return "INGRESS"
		}
		return "X"
	})
	var d struct {
		Widgets []struct {
			Properties struct {
				Title   string
				Metrics [][]any
			}
		}
	}
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		t.Fatalf("dashboard body is not JSON: %v", err)
	}
	found := 0
	for _, w := range d.Widgets {
		for _, row := range w.Properties.Metrics {
			if len(row) != 1 {
				continue
			}
			opts, _ := row[0].(map[string]any)
			expr, _ := opts["expression"].(string)
			if !strings.Contains(expr, throttledMetric) {
				continue
			}
			found++
			q := checkInsightsQuery(t, "widget "+w.Properties.Title, expr, "NS")
			if q.whereKey != "FunctionName" || q.whereValue != "INGRESS" {
				t.Errorf("widget %q: query %q: want WHERE FunctionName = '${IngressFunction}'", w.Properties.Title, expr)
			}
			if q.fn != "SUM" || q.groupBy != throttledDimension || q.orderBy != "SUM" || q.order != "DESC" || q.limit == 0 || q.limit > 20 {
				t.Errorf("widget %q: query %q: want the top webhooks: SUM GROUP BY %s ORDER BY SUM() DESC LIMIT <= 20", w.Properties.Title, expr, throttledDimension)
			}
			if p, _ := opts["period"].(float64); p != 60 {
				t.Errorf("widget %q: period %v; want 60 (throttled requests a minute)", w.Properties.Title, opts["period"])
			}
		}
	}
	if found != 1 {
		t.Errorf("dashboard has %d widgets ranking webhooks by %s; want 1", found, throttledMetric)
	}
}
