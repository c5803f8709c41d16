//go:build linux

package lambdacontract

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/rocketlead/ingress-webhooks/infra/template"
)

const (
	repoRoot     = "../../.."
	templateFile = repoRoot + "/template.yaml"
	samLocalEnv  = repoRoot + "/infra/samlocal/env.json"
)

// function is what the tests need of one AWS::Serverless::Function: its effective
// configuration after the Globals are merged, as SAM's transform does.
type function struct {
	ID      string
	Handler string
	Timeout string
	Memory  string
	Env     map[string]string   // declared variables; values may be unresolved (template.IsUnresolved)
	Routes  []string            // "METHOD /path" of its HttpApi events
	Events  map[string]string   // event name -> event type
	Actions map[string]struct{} // IAM actions its inline policy statements grant
}

// loadFunctions reads template.yaml through package template: a Ref to a parameter resolves
// to its default, anything only AWS can resolve is an unresolved marker.
func loadFunctions() ([]*function, error) {
	tpl, err := template.Load(templateFile)
	if err != nil {
		return nil, err
	}
	all, err := tpl.Functions()
	if err != nil {
		return nil, err
	}
	fns := make([]*function, 0, len(all))
	for _, tf := range all {
		f := &function{
			ID:      tf.LogicalID,
			Handler: tf.Handler,
			Timeout: tf.Timeout,
			Memory:  tf.MemorySize,
			Env:     tf.Env,
			Events:  tf.Events,
			Actions: map[string]struct{}{},
		}
		for _, r := range tf.Routes {
			f.Routes = append(f.Routes, r.Method+" "+r.Path)
		}
		sort.Strings(f.Routes)
		collectActions(tf.Properties["Policies"], f.Actions)
		fns = append(fns, f)
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("%s declares no AWS::Serverless::Function", templateFile)
	}
	return fns, nil
}

// collectActions adds the actions of every Allow statement found under v.
func collectActions(v any, into map[string]struct{}) {
	switch v := v.(type) {
	case map[string]any:
		if effect, ok := v["Effect"]; ok && effect == "Allow" {
			switch a := v["Action"].(type) {
			case string:
				into[a] = struct{}{}
			case []any:
				for _, x := range a {
					into[fmt.Sprint(x)] = struct{}{}
				}
			}
			return
		}
		for _, child := range v {
			collectActions(child, into)
		}
	case []any:
		for _, child := range v {
			collectActions(child, into)
		}
	}
}

// processEnv is the environment a function's process gets, as sam local builds it: every
// variable the template declares, overridden by infra/samlocal/env.json, plus what the
// Lambda service sets. Variables the template does not declare are not passed, so a
// function that reads an undeclared variable fails here as it would in AWS.
func (f *function) processEnv(endpoint string) (map[string]string, error) {
	overrides, err := readSAMLocalEnv()
	if err != nil {
		return nil, err
	}
	local := overrides[f.ID]
	env := map[string]string{}
	var missing []string
	for k, v := range f.Env {
		if o, ok := local[k]; ok {
			v = o
		}
		if template.IsUnresolved(v) {
			missing = append(missing, k+" ("+v+")")
			continue
		}
		env[k] = v
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("infra/samlocal/env.json gives %s no local value for %s", f.ID, strings.Join(missing, ", "))
	}
	if _, declared := f.Env["AWS_ENDPOINT_URL"]; !declared {
		return nil, fmt.Errorf("%s does not declare AWS_ENDPOINT_URL: sam local could not point it at the local runner", f.ID)
	}
	// The endpoint is the one value the harness owns, as the docker network does for sam
	// local; region and credentials are what sam local sets from its profile.
	env["AWS_ENDPOINT_URL"] = endpoint
	for k, v := range map[string]string{
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"AWS_ACCESS_KEY_ID":               "local",
		"AWS_SECRET_ACCESS_KEY":           "local",
		"AWS_LAMBDA_FUNCTION_NAME":        f.ID,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": f.Memory,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     f.Timeout,
		"_HANDLER":                        f.Handler,
		"TZ":                              ":UTC",
	} {
		env[k] = v
	}
	return env, nil
}

func readSAMLocalEnv() (map[string]map[string]string, error) {
	b, err := os.ReadFile(samLocalEnv)
	if err != nil {
		return nil, fmt.Errorf("read sam local env file: %w", err)
	}
	var m map[string]map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", samLocalEnv, err)
	}
	return m, nil
}

// iamAction maps the X-Amz-Target of a request to the IAM action it needs.
func iamAction(target string) (string, bool) {
	for prefix, service := range map[string]string{
		"DynamoDB_20120810.":        "dynamodb",
		"DynamoDBStreams_20120810.": "dynamodb",
		"secretsmanager.":           "secretsmanager",
		"AWSEvents.":                "events",
		"AmazonSQS.":                "sqs",
	} {
		if op, ok := strings.CutPrefix(target, prefix); ok && op != "" {
			return service + ":" + op, true
		}
	}
	return "", false
}
