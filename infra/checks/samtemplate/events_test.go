package samtemplate_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/infra/template"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
)

// TestEntryEventsConsumesTheStreamSafely checks the stream outbox consumer:
// new ENTRY# items only, partial batch failures, bounded retries, an on-failure queue with an
// alarm on its depth, and the bus chosen by a parameter defaulting to the account's bus.
func TestEntryEventsConsumesTheStreamSafely(t *testing.T) {
	p := load(t)
	resources, _ := p.raw["Resources"].(map[string]any)
	fn, _ := resources["EntryEventsFunction"].(map[string]any)
	if fn == nil {
		t.Fatal("resource EntryEventsFunction is missing")
	}
	props, _ := fn["Properties"].(map[string]any)
	evs, _ := props["Events"].(map[string]any)
	var stream map[string]any
	for name, e := range evs {
		ev, _ := e.(map[string]any)
		if ev["Type"] != "DynamoDB" {
			t.Errorf("EntryEventsFunction event %s has type %v; want only the DynamoDB stream", name, ev["Type"])
			continue
		}
		if stream != nil {
			t.Errorf("EntryEventsFunction has more than one DynamoDB event")
		}
		stream, _ = ev["Properties"].(map[string]any)
	}
	if stream == nil {
		t.Fatal("EntryEventsFunction has no DynamoDB stream event")
	}

	num := func(k string) float64 {
		f, _ := stream[k].(float64)
		return f
	}
	var pattern, wantPattern any
	filters, _ := stream["FilterCriteria"].(map[string]any)["Filters"].([]any)
	if len(filters) == 1 {
		if s, ok := filters[0].(map[string]any)["Pattern"].(string); ok {
			if err := json.Unmarshal([]byte(s), &pattern); err != nil {
				t.Errorf("FilterCriteria pattern %q is not JSON: %v", s, err)
			}
		}
	}
	must := json.Unmarshal([]byte(`{"eventName":["INSERT"],"dynamodb":{"Keys":{"sk":{"S":[{"prefix":"`+dynamo.EntryPrefix+`"}]}},"NewImage":{"`+dynamo.TypeAttribute+`":{"S":[{"anything-but":["`+dynamo.FenceType+`"]}]}}}}`), &wantPattern)
	if must != nil {
		t.Fatal(must)
	}
	onFailure, _ := stream["DestinationConfig"].(map[string]any)["OnFailure"].(map[string]any)
	dest, _ := onFailure["Destination"].(string)
	queue, _, _ := strings.Cut(strings.TrimPrefix(dest, template.GetAttMarker), ".")

	checks := []struct {
		name string
		ok   bool
		got  any
	}{
		{"Stream is the table's stream", stream["Stream"] == template.GetAttMarker+"Table.StreamArn", stream["Stream"]},
		{"StartingPosition LATEST", stream["StartingPosition"] == "LATEST", stream["StartingPosition"]},
		{"BatchSize between 1 and 100", num("BatchSize") >= 1 && num("BatchSize") <= 100, stream["BatchSize"]},
		{"BisectBatchOnFunctionError", stream["BisectBatchOnFunctionError"] == true, stream["BisectBatchOnFunctionError"]},
		{"MaximumRetryAttempts bounded", num("MaximumRetryAttempts") >= 1 && num("MaximumRetryAttempts") <= 100, stream["MaximumRetryAttempts"]},
		{"MaximumRecordAgeInSeconds bounded", num("MaximumRecordAgeInSeconds") >= 60 && num("MaximumRecordAgeInSeconds") <= 86400, stream["MaximumRecordAgeInSeconds"]},
		{"FunctionResponseTypes", fmt.Sprint(stream["FunctionResponseTypes"]) == "[ReportBatchItemFailures]", stream["FunctionResponseTypes"]},
		{"FilterCriteria: INSERT of ENTRY# only, fences excluded", reflect.DeepEqual(pattern, wantPattern), pattern},
		{"OnFailure is an SQS queue", strings.HasPrefix(dest, template.GetAttMarker) && strings.HasSuffix(dest, ".Arn") &&
			template.ResourceType(p.raw, queue) == "AWS::SQS::Queue", dest},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("EntryEventsFunction stream event: %s: got %v", c.name, c.got)
		}
	}

	alarmed := false
	for id, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] != "AWS::CloudWatch::Alarm" {
			continue
		}
		a, _ := res["Properties"].(map[string]any)
		dims, _ := a["Dimensions"].([]any)
		onQueue := false
		for _, d := range dims {
			dm, _ := d.(map[string]any)
			onQueue = onQueue || (dm["Name"] == "QueueName" && dm["Value"] == template.GetAttMarker+queue+".QueueName")
		}
		if onQueue && a["Namespace"] == "AWS/SQS" && a["MetricName"] == "ApproximateNumberOfMessagesVisible" &&
			a["ComparisonOperator"] == "GreaterThanThreshold" && fmt.Sprint(a["Threshold"]) == "0" {
			alarmed = true
			t.Logf("alarm %s watches %s", id, queue)
		}
	}
	if !alarmed {
		t.Errorf("no alarm on ApproximateNumberOfMessagesVisible > 0 of the on-failure queue %s", queue)
	}

	env, _ := props["Environment"].(map[string]any)["Variables"].(map[string]any)
	params, _ := p.raw["Parameters"].(map[string]any)
	for variable, param := range map[string]string{"EVENT_BUS_NAME": "EventBusName", "EVENT_SOURCE": "EventSource"} {
		def, _ := params[param].(map[string]any)["Default"]
		// A Ref to a parameter resolves to its default here.
		if env[variable] == nil || env[variable] != def {
			t.Errorf("EntryEventsFunction %s = %v; want a Ref to parameter %s (default %v)", variable, env[variable], param, def)
		}
	}
	if def := params["EventBusName"].(map[string]any)["Default"]; def != "default" {
		t.Errorf("EventBusName default = %v; want the account's default bus", def)
	}
	if def := params["EventSource"].(map[string]any)["Default"]; def != "rocketlead.ingress" {
		t.Errorf("EventSource default = %v; want rocketlead.ingress", def)
	}
}
