package samtemplate_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rocketlead/ingress-webhooks/infra/template"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app/entryevents"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// emittedMetrics are the metric names the code writes in the service's namespace: the
// per-request document of the HTTP functions and the per-batch document of the stream
// consumer. A dashboard widget or an alarm on any other name would show nothing.
var emittedMetrics = []string{
	apigw.MetricRequests, apigw.MetricDuration, apigw.MetricServerErrors, apigw.MetricThrottles,
	apigw.MetricAWSCalls, apigw.MetricAWSRetries, apigw.MetricLeadsAccepted, apigw.MetricClientErrors,
	apigw.MetricReplays, apigw.MetricKeysLocked, apigw.MetricLockRetries, apigw.MetricRejectedKept,
	apigw.MetricRejectedNotKept, apigw.MetricEntryFences, apigw.MetricUnsettledWrites,
	entryevents.MetricStreamRecords, entryevents.MetricEventsPublished, entryevents.MetricEventsFailed, entryevents.MetricStreamAge,
	entryevents.MetricBatchDuration, entryevents.MetricThrottles, entryevents.MetricAWSCalls, entryevents.MetricAWSRetries,
	apigw.MetricThrottled, apigw.MetricRateFlushes,
}

// rawResources returns the template's resources as YAML nodes, tags (!Ref, !If) intact.
func rawResources(t *testing.T) map[string]*yaml.Node {
	t.Helper()
	data, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse %s: %v", templateFile, err)
	}
	out := map[string]*yaml.Node{}
	res := child(doc.Content[0], "Resources")
	if res == nil {
		t.Fatalf("%s has no Resources", templateFile)
	}
	for i := 0; i+1 < len(res.Content); i += 2 {
		out[res.Content[i].Value] = res.Content[i+1]
	}
	return out
}

// child returns the value of key in a mapping node, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func path(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = child(n, k)
	}
	return n
}

// flow renders a node on one line, tags included: `!If [AlarmsNotify, ...]`.
func flow(n *yaml.Node) string {
	if n == nil {
		return "<missing>"
	}
	var parts []string
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			parts = append(parts, flow(c))
		}
		s := "[" + strings.Join(parts, ", ") + "]"
		if n.Tag != "!!seq" {
			s = n.Tag + " " + s
		}
		return s
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			return n.Tag + " " + n.Value
		}
		return n.Value
	}
	return n.Tag
}

func resourcesOfType(res map[string]*yaml.Node, typ string) []string {
	var ids []string
	for id, n := range res {
		if v := child(n, "Type"); v != nil && v.Value == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func TestEveryFunctionLogsJSONToItsOwnLogGroupWithRetention(t *testing.T) {
	res := rawResources(t)
	fns := resourcesOfType(res, "AWS::Serverless::Function")
	if len(fns) == 0 {
		t.Fatal("no functions")
	}
	for _, id := range fns {
		t.Run(id, func(t *testing.T) {
			lc := path(res[id], "Properties", "LoggingConfig")
			if got := flow(child(lc, "LogFormat")); got != "JSON" {
				t.Errorf("LoggingConfig.LogFormat = %s; want JSON", got)
			}
			// Lambda gives a JSON line without "level" (an EMF document) the level INFO: an
			// application level above INFO would drop the metrics.
			if got := flow(child(lc, "ApplicationLogLevel")); got != "!If [DebugLogs, DEBUG, INFO]" {
				t.Errorf("LoggingConfig.ApplicationLogLevel = %s; want !If [DebugLogs, DEBUG, INFO] (LOG_LEVEL filters the rest)", got)
			}
			// Lambda's start and report records cost about 380 B an invocation at INFO; at
			// WARN only failures write any, and Lambda's metrics keep duration and errors.
			if got := flow(child(lc, "SystemLogLevel")); got != "WARN" {
				t.Errorf("LoggingConfig.SystemLogLevel = %s; want WARN", got)
			}
			group := child(lc, "LogGroup")
			if group == nil || group.Tag != "!Ref" {
				t.Fatalf("LoggingConfig.LogGroup = %s; want !Ref to a log group of the template", flow(group))
			}
			lg := res[group.Value]
			if typ := flow(child(lg, "Type")); typ != "AWS::Logs::LogGroup" {
				t.Fatalf("LogGroup %s has Type %s; want AWS::Logs::LogGroup", group.Value, typ)
			}
			if got := flow(path(lg, "Properties", "RetentionInDays")); got != "!Ref LogRetentionDays" {
				t.Errorf("%s RetentionInDays = %s; want !Ref LogRetentionDays", group.Value, got)
			}
			if got := flow(path(lg, "Properties", "LogGroupName")); !strings.Contains(got, "/aws/lambda/") || !strings.Contains(got, id) {
				t.Errorf("%s LogGroupName = %s; want /aws/lambda/.../%s", group.Value, got, id)
			}
			if flow(child(lg, "DeletionPolicy")) == "<missing>" {
				t.Errorf("%s has no DeletionPolicy: choose one", group.Value)
			}
		})
	}
	params := rawParameters(t)
	if got := flow(path(params, "LogRetentionDays", "Default")); got != "30" {
		t.Errorf("LogRetentionDays default = %s; want 30", got)
	}
}

func rawParameters(t *testing.T) *yaml.Node {
	t.Helper()
	return child(rawTemplate(t), "Parameters")
}

func TestEveryAlarmNotifiesTheAlarmTopicAndSaysWhatToDo(t *testing.T) {
	res := rawResources(t)
	alarms := resourcesOfType(res, "AWS::CloudWatch::Alarm")
	if len(alarms) == 0 {
		t.Fatal("no alarms")
	}
	const want = "!If [AlarmsNotify, [!If [HasAlarmTopicArn, !Ref AlarmTopicArn, !Ref AlarmTopic]], !Ref AWS::NoValue]"
	runbook, err := os.ReadFile(repoRoot + "/infra/ops/RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	runbookRow := regexp.MustCompile(`Runbook row "([^"]+)"`)
	for _, id := range alarms {
		t.Run(id, func(t *testing.T) {
			props := child(res[id], "Properties")
			for _, k := range []string{"AlarmActions", "OKActions"} {
				if got := flow(child(props, k)); got != want {
					t.Errorf("%s = %s; want %s", k, got, want)
				}
			}
			desc := flow(child(props, "AlarmDescription"))
			m := runbookRow.FindStringSubmatch(desc)
			if m == nil {
				t.Fatalf("AlarmDescription %q names no runbook row (Runbook row \"...\")", desc)
			}
			if !strings.Contains(string(runbook), "| "+m[1]+" |") {
				t.Errorf("infra/ops/RUNBOOK.md has no row | %s |", m[1])
			}
			var queries []*yaml.Node
			if m := child(props, "Metrics"); m != nil {
				queries = m.Content
			}
			for _, q := range queries {
				if expr := child(q, "Expression"); expr != nil && strings.HasPrefix(expr.Value, "SELECT ") {
					checkInsightsQuery(t, id, expr.Value, "${MetricsNamespace}")
				}
				if ns := flow(path(q, "MetricStat", "Metric", "Namespace")); ns == "!Ref MetricsNamespace" {
					if name := flow(path(q, "MetricStat", "Metric", "MetricName")); !slices.Contains(emittedMetrics, name) {
						t.Errorf("alarm reads %s, which the code does not emit", name)
					}
				}
			}
		})
	}
	// Each function has its errors and throttles alarms; the stream, queue, table, API and
	// rejection share have theirs.
	var wantAlarms []string
	for _, fn := range resourcesOfType(res, "AWS::Serverless::Function") {
		wantAlarms = append(wantAlarms, fn+"ErrorsAlarm", fn+"ThrottlesAlarm")
	}
	wantAlarms = append(wantAlarms, "Api5xxAlarm", "EntryEventsIteratorAgeAlarm", "EntryEventsFailureAlarm",
		"DynamoDBThrottlesAlarm", "RejectionShareAlarm", "UnsettledWritesAlarm", "WebhookThrottledAlarm")
	for _, a := range wantAlarms {
		if !slices.Contains(alarms, a) {
			t.Errorf("template has no alarm %s", a)
		}
	}
}

func TestAPIAccessLogsAreJSONWithoutQueryStrings(t *testing.T) {
	res := rawResources(t)
	als := path(res["HttpApi"], "Properties", "AccessLogSettings")
	if got := flow(child(als, "DestinationArn")); !strings.HasPrefix(got, "!GetAtt ") {
		t.Fatalf("AccessLogSettings.DestinationArn = %s; want a log group of the template", got)
	}
	lg := res[strings.TrimSuffix(strings.TrimPrefix(flow(child(als, "DestinationArn")), "!GetAtt "), ".Arn")]
	if got := flow(path(lg, "Properties", "RetentionInDays")); got != "!Ref LogRetentionDays" {
		t.Errorf("access log group RetentionInDays = %s; want !Ref LogRetentionDays", got)
	}
	format := child(als, "Format").Value
	var fields map[string]string
	if err := json.Unmarshal([]byte(format), &fields); err != nil {
		t.Fatalf("access log format is not a JSON object: %v\n%s", err, format)
	}
	// What the runbook reads; the line's size is pkg/app's log budget test's.
	for _, want := range []string{"$context.requestId", "$context.routeKey", "$context.status", "$context.responseLatency",
		"$context.integrationErrorMessage"} {
		if !strings.Contains(format, want) {
			t.Errorf("access log format lacks %s", want)
		}
	}
	// A sender may put ?token=... on the URL: nothing that carries the query string.
	for _, leak := range []string{"querystring", "$context.requestOverride", "$input", "header", "$request"} {
		if strings.Contains(strings.ToLower(format), strings.ToLower(leak)) {
			t.Errorf("access log format holds %s", leak)
		}
	}
}

var subVarRE = regexp.MustCompile(`\$\{[^}]+\}`)

func TestDashboardParsesAndShowsOnlyEmittedMetrics(t *testing.T) {
	tf, err := template.Load(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := tf.Doc["Resources"].(map[string]any)
	dash, _ := res["Dashboard"].(map[string]any)
	props, _ := dash["Properties"].(map[string]any)
	body, _ := props["DashboardBody"].(string)
	if !strings.HasPrefix(body, template.SubMarker) {
		t.Fatalf("DashboardBody = %.60q; want !Sub of a JSON document", body)
	}
	// ${...} become plain strings: what CloudFormation substitutes is text inside JSON strings.
	text := subVarRE.ReplaceAllString(strings.TrimPrefix(body, template.SubMarker), "X")
	var d struct {
		Widgets []struct {
			Type       string
			Properties struct {
				Title   string
				Metrics [][]any
			}
		}
	}
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		t.Fatalf("dashboard body is not JSON: %v", err)
	}
	raw := strings.TrimPrefix(body, template.SubMarker)
	// Every code of a 4xx: a new code without its line would hide its rejections.
	codes := []string{string(lead.EUNAUTHORIZED), string(lead.ENOTFOUND), string(lead.ETOOLARGE), string(lead.EUNSUPPORTED),
		string(lead.EINVALID), string(lead.ENOLEADSTATE), string(lead.EKEYREUSED)}
	seen := map[string]bool{}
	for _, w := range d.Widgets {
		if w.Type != "metric" || w.Properties.Title == "" || len(w.Properties.Metrics) == 0 {
			t.Errorf("widget %+v: want a titled metric widget with metrics", w)
			continue
		}
		for _, row := range w.Properties.Metrics {
			// A Metrics Insights query, alone on its row.
			if opts, ok := row[0].(map[string]any); ok && len(row) == 1 {
				expr, _ := opts["expression"].(string)
				seen[checkInsightsQuery(t, "widget "+w.Properties.Title, expr, "X").metric] = true
				continue
			}
			var strs []string
			var opts map[string]any
			for _, v := range row {
				switch v := v.(type) {
				case string:
					strs = append(strs, v)
				case map[string]any:
					opts = v
				}
			}
			if len(strs) < 2 || len(strs)%2 != 0 {
				t.Errorf("widget %q row %v: want namespace, name and dimension pairs", w.Properties.Title, row)
				continue
			}
			ns, name := strs[0], strs[1]
			seen[name] = true
			if stat, ok := opts["stat"].(string); ok {
				seen[name+"/"+stat] = true
			}
			if !strings.HasPrefix(ns, "AWS/") {
				if !slices.Contains(emittedMetrics, name) {
					t.Errorf("widget %q shows %s, which the code does not emit", w.Properties.Title, name)
				}
				for i := 2; i+1 < len(strs); i += 2 {
					switch strs[i] {
					case "FunctionName":
					case apigw.DimensionOutcome:
						if !slices.Contains(codes, strs[i+1]) {
							t.Errorf("widget %q: Outcome %s is no rejection code", w.Properties.Title, strs[i+1])
						}
						seen["Outcome/"+strs[i+1]] = true
					default:
						t.Errorf("widget %q: dimension %s is not one the code emits", w.Properties.Title, strs[i])
					}
				}
			}
		}
	}
	if !strings.Contains(raw, "${MetricsNamespace}") {
		t.Error("dashboard does not read the MetricsNamespace parameter")
	}
	for _, want := range []string{apigw.MetricLeadsAccepted, apigw.MetricClientErrors, apigw.MetricDuration + "/p50",
		apigw.MetricDuration + "/p99", entryevents.MetricEventsPublished, "IteratorAge", "Errors", throttledMetric} {
		if !seen[want] {
			t.Errorf("dashboard has no %s", want)
		}
	}
	for _, c := range codes {
		if !seen["Outcome/"+c] {
			t.Errorf("dashboard's rejections by reason lacks %s", c)
		}
	}
}
