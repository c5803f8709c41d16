package samtemplate_test

import (
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	"github.com/awslabs/goformation/v7/cloudformation/global"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"

	"github.com/rocketlead/ingress-webhooks/infra/template"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport"
)

const (
	repoRoot     = "../../.."
	templateFile = repoRoot + "/template.yaml"
	modulePath   = "github.com/rocketlead/ingress-webhooks"
)

// wantActions is the complete list of IAM actions each function may be granted. It is the
// reviewed least-privilege contract: a new function, or a new call in a function's code,
// needs an entry here and the matching statement in template.yaml.
var wantActions = map[string][]string{
	"CreateWebhookFunction": {
		"dynamodb:GetItem",
		"dynamodb:PutItem",
		"secretsmanager:GetSecretValue",
	},
	"RotateWebhookFunction": {
		"dynamodb:GetItem",
		"dynamodb:UpdateItem",
		"secretsmanager:GetSecretValue",
	},
	"ListWebhooksFunction": {
		"dynamodb:Query",
	},
	"DeleteWebhookFunction": {
		"dynamodb:GetItem",
		"dynamodb:PutItem",
		"dynamodb:UpdateItem",
	},
	"ShowSchemaFunction": {
		"dynamodb:GetItem",
	},
	"PatchSchemaFunction": {
		"dynamodb:GetItem",
		"dynamodb:UpdateItem",
	},
	"UpdateWebhookFunction": {
		"dynamodb:GetItem",
		"dynamodb:UpdateItem",
		"secretsmanager:GetSecretValue",
	},
	"SigningSecretFunction": {
		"dynamodb:GetItem",
		"dynamodb:UpdateItem",
		"secretsmanager:GetSecretValue",
	},
	"ListRejectedFunction": {
		"dynamodb:GetItem",
		"dynamodb:Query",
	},
	"ShowRejectedFunction": {
		"dynamodb:GetItem",
	},
	"ReplayRejectedFunction": {
		"dynamodb:BatchGetItem",
		"dynamodb:GetItem",
		"dynamodb:PutItem",
		"dynamodb:TransactWriteItems",
		"dynamodb:UpdateItem",
	},
	"DiscardRejectedFunction": {
		"dynamodb:GetItem",
		"dynamodb:PutItem",
		"dynamodb:UpdateItem",
	},
	"IngressFunction": {
		"dynamodb:BatchGetItem",
		"dynamodb:GetItem",
		"dynamodb:PutItem",
		"dynamodb:Query", // the webhook with its rate counters
		"dynamodb:TransactWriteItems",
		"dynamodb:UpdateItem",
		"secretsmanager:GetSecretValue",
	},
	"EntryEventsFunction": {
		"dynamodb:DescribeStream",
		"dynamodb:GetRecords",
		"dynamodb:GetShardIterator",
		"dynamodb:ListStreams",
		"events:PutEvents",
		"sqs:SendMessage",
	},
}

// serviceResourceTypes says which template resource an action of a service must target.
var serviceResourceTypes = map[string]string{
	"dynamodb":       "AWS::DynamoDB::Table",
	"secretsmanager": "AWS::SecretsManager::Secret",
	"events":         "AWS::Events::EventBus",
	"sqs":            "AWS::SQS::Queue",
}

// parameterARNs lists, per service, the one form a resource built from a template
// parameter may take instead of naming a template resource: the event bus is chosen by the
// EventBusName parameter (the account's default bus cannot be a stack resource).
var parameterARNs = map[string]*regexp.Regexp{
	"events": regexp.MustCompile(`^!Sub arn:\$\{AWS::Partition\}:events:\$\{AWS::Region\}:\$\{AWS::AccountId\}:event-bus/\$\{([A-Za-z0-9]+)\}$`),
}

// isParameter reports whether id names a parameter of the generic template.
func isParameter(doc map[string]any, id string) bool {
	params, _ := doc["Parameters"].(map[string]any)
	_, ok := params[id]
	return ok
}

// parsed is template.yaml read twice: typed by goformation, and as the generic
// intrinsic-processed document that IAM statements are walked in.
type parsed struct {
	tpl *cloudformation.Template
	raw map[string]any
}

// load reads template.yaml through package template, whose intrinsic handling renders what
// only AWS resolves as marker strings instead of goformation's defaults (which resolve a Ref
// to a resource, and every Fn::GetAtt, to null: a null Resource would make the wildcard
// check pass vacuously), and parses the same text typed by goformation with the same handlers.
func load(t *testing.T) parsed {
	t.Helper()
	tf, err := template.Load(templateFile)
	if err != nil {
		t.Fatalf("template.Load(%s): %v", templateFile, err)
	}
	tpl, err := goformation.ParseYAMLWithOptions(withoutNewerSAMProperties(t, tf.Data), template.ProcessorOptions())
	if err != nil {
		t.Fatalf("goformation.ParseYAMLWithOptions(%s): %v", templateFile, err)
	}
	return parsed{tpl: tpl, raw: tf.Doc}
}

// function is a function's effective configuration. goformation parses Globals but does
// not merge them into the resources, so effectiveFunctions does what SAM's transform
// does for the properties checked here: a function's own value wins, and
// Environment.Variables are merged key by key.
type function struct {
	id            string
	fn            *serverless.Function
	runtime       string
	handler       string
	architectures []string
	codeURI       string
	env           map[string]string
}

func effectiveFunctions(t *testing.T, p parsed) []function {
	t.Helper()
	g, err := p.tpl.GetServerlessGlobalFunction()
	if err != nil {
		g = &global.Function{}
	}
	all := p.tpl.GetAllServerlessFunctionResources()
	if len(all) == 0 {
		t.Fatalf("template has no AWS::Serverless::Function")
	}
	out := make([]function, 0, len(all))
	for id, fn := range all {
		f := function{id: id, fn: fn, env: map[string]string{}}
		f.runtime = firstNonEmpty(fn.Runtime, g.Runtime)
		f.handler = firstNonEmpty(fn.Handler, g.Handler)
		f.architectures = fn.Architectures
		if f.architectures == nil && g.Architectures != nil {
			f.architectures = *g.Architectures
		}
		if g.CodeUri != nil && g.CodeUri.String != nil {
			f.codeURI = *g.CodeUri.String
		}
		if fn.CodeUri != nil && fn.CodeUri.String != nil {
			f.codeURI = *fn.CodeUri.String
		}
		if g.Environment != nil {
			for k, v := range g.Environment.Variables {
				f.env[k] = v
			}
		}
		if fn.Environment != nil {
			for k, v := range fn.Environment.Variables {
				f.env[k] = v
			}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func firstNonEmpty(ptrs ...*string) string {
	for _, p := range ptrs {
		if p != nil && *p != "" {
			return *p
		}
	}
	return ""
}

func TestFunctionsRunOnAL2023Arm64AndBuildWithTheMakefile(t *testing.T) {
	p := load(t)
	for _, f := range effectiveFunctions(t, p) {
		t.Run(f.id, func(t *testing.T) {
			checks := []struct {
				name      string
				got, want any
			}{
				{"Runtime", f.runtime, "provided.al2023"},
				{"Architectures", f.architectures, []string{"arm64"}},
				{"Handler", f.handler, "bootstrap"},
				{"CodeUri", f.codeURI, "."},
				{"Metadata.BuildMethod", f.fn.AWSCloudFormationMetadata["BuildMethod"], "makefile"},
				{"Environment TABLE_NAME", f.env["TABLE_NAME"], template.RefMarker + "Table"},
			}
			for _, c := range checks {
				if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
					t.Errorf("%s %s = %v; want %v", f.id, c.name, c.got, c.want)
				}
			}
			if _, ok := f.env["LOG_LEVEL"]; !ok {
				t.Errorf("%s has no LOG_LEVEL environment variable", f.id)
			}
		})
	}
}

func requireMake(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not on PATH; run the tests through `make test`")
	}
}

var buildTargetRE = regexp.MustCompile(`-o "?/artifacts/bootstrap"? \./functions/([^\s"]+)`)

// makeFolder asks make itself (a dry run of the rule sam build calls) which folder
// under functions/ the logical id is built from.
func makeFolder(id string) (string, error) {
	cmd := exec.Command("make", "--no-print-directory", "-n", "build-"+id, "ARTIFACTS_DIR=/artifacts")
	cmd.Dir = repoRoot
	cmd.Env = testsupport.CleanMakeEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("make -n build-%s: %v: %s", id, err, strings.TrimSpace(string(out)))
	}
	m := buildTargetRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("make -n build-%s does not build ./functions/<folder> into $(ARTIFACTS_DIR)/bootstrap:\n%s", id, out)
	}
	return string(m[1]), nil
}

func TestEveryFunctionFolderIsBuiltForExactlyOneFunction(t *testing.T) {
	requireMake(t)
	p := load(t)
	users := map[string][]string{} // folder -> logical ids
	for _, f := range effectiveFunctions(t, p) {
		folder, err := makeFolder(f.id)
		if err != nil {
			t.Errorf("%s: %v", f.id, err)
			continue
		}
		if _, err := os.Stat(filepath.Join(repoRoot, "functions", folder, "main.go")); err != nil {
			t.Errorf("%s is built from functions/%s, which has no main.go: %v", f.id, folder, err)
		}
		users[folder] = append(users[folder], f.id)
	}
	entries, err := os.ReadDir(filepath.Join(repoRoot, "functions"))
	if err != nil {
		t.Fatalf("read functions/: %v", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if ids := users[e.Name()]; len(ids) != 1 {
			t.Errorf("functions/%s is built for functions %v; want exactly one", e.Name(), ids)
		}
	}
}

func TestHTTPRoutesAreUniqueAndComplete(t *testing.T) {
	p := load(t)
	routes := map[string]string{} // "METHOD /path" -> logical id
	for _, f := range effectiveFunctions(t, p) {
		names := make([]string, 0, len(f.fn.Events))
		for name := range f.fn.Events {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			ev := f.fn.Events[name]
			if ev.Type != "HttpApi" {
				continue
			}
			if ev.Properties == nil || ev.Properties.HttpApiEvent == nil {
				t.Errorf("%s event %s: properties are not an HttpApi event", f.id, name)
				continue
			}
			h := ev.Properties.HttpApiEvent
			path, method := deref(h.Path), strings.ToUpper(deref(h.Method))
			if !strings.HasPrefix(path, "/") || method == "" {
				t.Errorf("%s event %s: Path %q, Method %q; want an absolute path and a method", f.id, name, path, method)
				continue
			}
			if api := deref(h.ApiId); !strings.HasPrefix(api, template.RefMarker) ||
				template.ResourceType(p.raw, strings.TrimPrefix(api, template.RefMarker)) != "AWS::Serverless::HttpApi" {
				t.Errorf("%s event %s: ApiId %q; want a Ref to the template's AWS::Serverless::HttpApi", f.id, name, api)
			}
			if v := deref(h.PayloadFormatVersion); v != "" && v != "2.0" {
				t.Errorf("%s event %s: PayloadFormatVersion %q; want 2.0", f.id, name, v)
			}
			key := method + " " + path
			if other, dup := routes[key]; dup {
				t.Errorf("route %s is served by both %s and %s", key, other, f.id)
			}
			routes[key] = f.id
		}
	}
	if got := routes["POST /public/ingress_webhooks/{id}"]; got != "IngressFunction" {
		t.Errorf("POST /public/ingress_webhooks/{id} is served by %q; want IngressFunction", got)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// statement is one IAM policy statement found in the template, with the resource whose
// properties hold it.
type statement struct {
	owner string
	body  map[string]any
}

func collectStatements(owner string, v any, out *[]statement) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if k != "Statement" {
				collectStatements(owner, child, out)
				continue
			}
			switch s := child.(type) {
			case map[string]any:
				*out = append(*out, statement{owner, s})
			case []any:
				for _, e := range s {
					if m, ok := e.(map[string]any); ok {
						*out = append(*out, statement{owner, m})
					}
				}
			}
		}
	case []any:
		for _, child := range v {
			collectStatements(owner, child, out)
		}
	}
}

// stringList returns a statement field that may be a string or a list of strings; ok is
// false for anything else (an unresolved intrinsic, a null).
func stringList(v any) (list []string, ok bool) {
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		for _, e := range v {
			s, isString := e.(string)
			if !isString {
				return nil, false
			}
			list = append(list, s)
		}
		return list, len(list) > 0
	}
	return nil, false
}

var subRefRE = regexp.MustCompile(`\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}`)

// targets returns the logical ids an IAM resource string refers to.
func targets(resource string) []string {
	switch {
	case strings.HasPrefix(resource, template.RefMarker):
		return []string{strings.TrimPrefix(resource, template.RefMarker)}
	case strings.HasPrefix(resource, template.GetAttMarker):
		id, _, _ := strings.Cut(strings.TrimPrefix(resource, template.GetAttMarker), ".")
		return []string{id}
	case strings.HasPrefix(resource, template.SubMarker):
		var ids []string
		for _, m := range subRefRE.FindAllStringSubmatch(resource, -1) {
			ids = append(ids, m[1])
		}
		return ids
	}
	return nil
}

func TestIAMStatementsAreLeastPrivilege(t *testing.T) {
	p := load(t)
	resources, _ := p.raw["Resources"].(map[string]any)

	var stmts []statement
	for id, res := range resources {
		if template.ResourceType(p.raw, id) == "AWS::KMS::Key" {
			continue // a key policy: its Resource is always "*", this key (TestKeyPoliciesGrantOnlyTheAccountAndCloudWatch)
		}
		collectStatements(id, res, &stmts)
	}
	for _, s := range stmts {
		if _, trust := s.body["Principal"]; trust {
			if _, hasResource := s.body["Resource"]; !hasResource {
				continue // a trust policy: it grants assumption, not access
			}
		}
		for _, banned := range []string{"NotResource", "NotAction"} {
			if _, ok := s.body[banned]; ok {
				t.Errorf("%s: statement %v uses %s; list what is allowed instead", s.owner, s.body["Sid"], banned)
			}
		}
		actions, ok := stringList(s.body["Action"])
		if !ok {
			t.Errorf("%s: statement %v has Action %v; want a string or a list of strings", s.owner, s.body["Sid"], s.body["Action"])
		}
		for _, a := range actions {
			if strings.Contains(a, "*") {
				t.Errorf("%s: statement %v grants wildcard action %q", s.owner, s.body["Sid"], a)
			}
		}
		res, ok := stringList(s.body["Resource"])
		if !ok {
			t.Errorf("%s: statement %v has Resource %v; want a string or a list of strings naming template resources", s.owner, s.body["Sid"], s.body["Resource"])
			continue
		}
		for _, r := range res {
			if strings.Contains(r, "*") {
				t.Errorf("%s: statement %v has wildcard resource %q", s.owner, s.body["Sid"], r)
			}
			ids := targets(r)
			if len(ids) == 0 {
				t.Errorf("%s: statement %v has resource %q; want a Ref, GetAtt or Sub of a template resource", s.owner, s.body["Sid"], r)
			}
			for _, id := range ids {
				if template.ResourceType(p.raw, id) == "" && !isParameter(p.raw, id) && !strings.HasPrefix(id, "AWS") {
					t.Errorf("%s: statement %v refers to %q, which is not a resource of the template", s.owner, s.body["Sid"], id)
				}
			}
			for _, a := range actions {
				service, _, _ := strings.Cut(a, ":")
				want, known := serviceResourceTypes[service]
				if !known {
					continue
				}
				if m := parameterARNs[service]; m != nil {
					if sub := m.FindStringSubmatch(r); sub != nil && isParameter(p.raw, sub[1]) {
						continue
					}
				}
				if !slices.ContainsFunc(ids, func(id string) bool { return template.ResourceType(p.raw, id) == want }) {
					t.Errorf("%s: statement %v grants %s on %q; want a resource of type %s", s.owner, s.body["Sid"], a, r, want)
				}
			}
		}
	}

	for _, f := range effectiveFunctions(t, p) {
		t.Run(f.id, func(t *testing.T) {
			props, _ := resources[f.id].(map[string]any)["Properties"].(map[string]any)
			policies, _ := props["Policies"].([]any)
			if single, ok := props["Policies"].(map[string]any); ok {
				policies = []any{single}
			}
			if s, ok := props["Policies"].(string); ok {
				policies = []any{s}
			}
			for _, pol := range policies {
				m, isMap := pol.(map[string]any)
				if _, inline := m["Statement"]; !isMap || !inline {
					t.Errorf("%s policy %v: managed policies and SAM policy templates grant more than the code needs; write an inline Statement list", f.id, pol)
				}
			}
			var fnStmts []statement
			collectStatements(f.id, props["Policies"], &fnStmts)
			granted := map[string]bool{}
			for _, s := range fnStmts {
				actions, _ := stringList(s.body["Action"])
				for _, a := range actions {
					granted[a] = true
				}
			}
			got := slices.Sorted(func(yield func(string) bool) {
				for a := range granted {
					if !yield(a) {
						return
					}
				}
			})
			want, listed := wantActions[f.id]
			if !listed {
				t.Fatalf("%s grants %v; add the function to wantActions in this test after review", f.id, got)
			}
			want = slices.Sorted(slices.Values(want))
			if !slices.Equal(got, want) {
				t.Errorf("%s IAM actions = %v; want %v", f.id, got, want)
			}
		})
	}
}

func TestTableIsDurableAndShapedForTheDesign(t *testing.T) {
	p := load(t)
	tbl, err := p.tpl.GetDynamoDBTableWithName("Table")
	if err != nil {
		t.Fatalf("resource Table: %v", err)
	}
	attrTypes := map[string]string{}
	for _, a := range tbl.AttributeDefinitions {
		attrTypes[a.AttributeName] = a.AttributeType
	}
	keySchema := func(ks []dynamoKey) string {
		var parts []string
		for _, k := range ks {
			parts = append(parts, k.name+" "+k.typ)
		}
		return strings.Join(parts, ", ")
	}
	var tableKeys []dynamoKey
	for _, k := range tbl.KeySchema {
		tableKeys = append(tableKeys, dynamoKey{k.AttributeName, k.KeyType})
	}
	var gsi1Keys []dynamoKey
	gsi1Projection := ""
	for _, g := range tbl.GlobalSecondaryIndexes {
		if g.IndexName != "gsi1" {
			continue
		}
		for _, k := range g.KeySchema {
			gsi1Keys = append(gsi1Keys, dynamoKey{k.AttributeName, k.KeyType})
		}
		if g.Projection != nil {
			gsi1Projection = deref(g.Projection.ProjectionType)
		}
	}

	checks := []struct {
		name      string
		got, want any
	}{
		{"DeletionPolicy", string(tbl.AWSCloudFormationDeletionPolicy), "Retain"},
		{"UpdateReplacePolicy", string(tbl.AWSCloudFormationUpdateReplacePolicy), "Retain"},
		{"BillingMode", deref(tbl.BillingMode), "PAY_PER_REQUEST"},
		{"KeySchema", keySchema(tableKeys), "pk HASH, sk RANGE"},
		{"AttributeType pk", attrTypes["pk"], "S"},
		{"AttributeType sk", attrTypes["sk"], "S"},
		{"gsi1 KeySchema", keySchema(gsi1Keys), "gsi1pk HASH, gsi1sk RANGE"},
		{"gsi1 Projection", gsi1Projection, "ALL"},
		{"AttributeType gsi1pk", attrTypes["gsi1pk"], "S"},
		{"AttributeType gsi1sk", attrTypes["gsi1sk"], "S"},
		{"StreamViewType", streamViewType(tbl.StreamSpecification), "NEW_IMAGE"},
		{"TimeToLive", ttl(tbl.TimeToLiveSpecification), "expiresAt enabled"},
		{"PointInTimeRecoveryEnabled", tbl.PointInTimeRecoverySpecification != nil &&
			tbl.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled != nil &&
			*tbl.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true},
		{"SSEEnabled", tbl.SSESpecification != nil && tbl.SSESpecification.SSEEnabled, true},
		{"TableName", deref(tbl.TableName), ""}, // a fixed name would block replacement and a second stack
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("Table %s = %v; want %v", c.name, c.got, c.want)
		}
	}
}

type dynamoKey struct{ name, typ string }

func streamViewType(s *dynamodb.Table_StreamSpecification) string {
	if s == nil {
		return ""
	}
	return s.StreamViewType
}

func ttl(s *dynamodb.Table_TimeToLiveSpecification) string {
	if s == nil || !s.Enabled {
		return "disabled"
	}
	return deref(s.AttributeName) + " enabled"
}

func TestTokenKeySecretIsGenerated(t *testing.T) {
	p := load(t)
	sec, err := p.tpl.GetSecretsManagerSecretWithName("TokenKeySecret")
	if err != nil {
		t.Fatalf("resource TokenKeySecret: %v", err)
	}
	if sec.SecretString != nil {
		t.Errorf("TokenKeySecret has a literal SecretString; want GenerateSecretString")
	}
	g := sec.GenerateSecretString
	if g == nil {
		t.Fatalf("TokenKeySecret has no GenerateSecretString")
	}
	if g.PasswordLength == nil || *g.PasswordLength < 64 {
		t.Errorf("TokenKeySecret GenerateSecretString.PasswordLength = %v; want >= 64", g.PasswordLength)
	}
	if g.ExcludePunctuation == nil || !*g.ExcludePunctuation {
		t.Errorf("TokenKeySecret GenerateSecretString.ExcludePunctuation is not true")
	}
	ingress, err := p.tpl.GetServerlessFunctionWithName("IngressFunction")
	if err != nil {
		t.Fatalf("resource IngressFunction: %v", err)
	}
	if ingress.Environment == nil || ingress.Environment.Variables["TOKEN_KEY_SECRET_ID"] != template.RefMarker+"TokenKeySecret" {
		t.Errorf("IngressFunction TOKEN_KEY_SECRET_ID is not a Ref to TokenKeySecret")
	}
}

func TestHTTPAPIStageIsThrottledFromParameters(t *testing.T) {
	p := load(t)
	api, err := p.tpl.GetServerlessHttpApiWithName("HttpApi")
	if err != nil {
		t.Fatalf("resource HttpApi: %v", err)
	}
	rs := api.DefaultRouteSettings
	if rs == nil || rs.ThrottlingRateLimit == nil || rs.ThrottlingBurstLimit == nil {
		t.Fatalf("HttpApi DefaultRouteSettings has no throttling limits")
	}
	// The Refs resolved to the parameters' defaults.
	for _, c := range []struct {
		param string
		got   float64
	}{
		{"StageThrottleRate", *rs.ThrottlingRateLimit},
		{"StageThrottleBurst", float64(*rs.ThrottlingBurstLimit)},
	} {
		def, ok := p.tpl.Parameters[c.param]
		if !ok {
			t.Errorf("parameter %s is missing", c.param)
			continue
		}
		if fmt.Sprint(def.Default) != fmt.Sprint(c.got) {
			t.Errorf("HttpApi throttling from %s = %v; want the parameter's default %v", c.param, c.got, def.Default)
		}
	}
}

func TestOutputsNameTheEndpoints(t *testing.T) {
	p := load(t)
	for _, name := range []string{"IngressBaseUrl", "HttpApiUrl", "TableName", "TokenKeySecretArn"} {
		if _, ok := p.tpl.Outputs[name]; !ok {
			t.Errorf("output %s is missing", name)
		}
	}
	base := fmt.Sprint(p.tpl.Outputs["IngressBaseUrl"].Value)
	if !strings.Contains(base, "${HttpApi}") || !strings.HasSuffix(base, "/public/ingress_webhooks/") {
		t.Errorf("IngressBaseUrl = %q; want the HttpApi URL ending in /public/ingress_webhooks/", base)
	}
}

// TestSAMBuild runs the rule `sam build` runs for each function and checks the artifact
// is what provided.al2023 on arm64 executes.
func TestSAMBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function; skipped in -short mode")
	}
	requireMake(t)
	p := load(t)
	for _, f := range effectiveFunctions(t, p) {
		t.Run(f.id, func(t *testing.T) {
			t.Parallel()
			folder, err := makeFolder(f.id)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			cmd := exec.CommandContext(t.Context(), "make", "--no-print-directory", "build-"+f.id, "ARTIFACTS_DIR="+dir)
			cmd.Dir = repoRoot
			cmd.Env = testsupport.CleanMakeEnv()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make build-%s: %v\n%s", f.id, err, out)
			}
			bootstrap := filepath.Join(dir, "bootstrap")
			checkLambdaBinary(t, bootstrap, modulePath+"/functions/"+folder)
		})
	}
}

func checkLambdaBinary(t *testing.T, path, wantPkg string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("artifact: %v", err)
	}
	if info.Mode()&0o111 == 0 {
		t.Errorf("%s mode = %v; want executable", path, info.Mode())
	}

	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("elf.Open(bootstrap): %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 || f.Type != elf.ET_EXEC {
		t.Errorf("bootstrap is %v %v %v; want EM_AARCH64 ELFCLASS64 ET_EXEC", f.Machine, f.Class, f.Type)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("bootstrap is dynamically linked; want a static binary (CGO_ENABLED=0)")
		}
	}
	if f.Section(".symtab") != nil {
		t.Errorf("bootstrap has a symbol table; want it stripped (-ldflags -s -w)")
	}

	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatalf("buildinfo.ReadFile(bootstrap): %v", err)
	}
	if bi.Path != wantPkg {
		t.Errorf("bootstrap main package = %s; want %s", bi.Path, wantPkg)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for key, want := range map[string]string{
		"GOOS":        "linux",
		"GOARCH":      "arm64",
		"CGO_ENABLED": "0",
		"-tags":       "lambda.norpc",
		"-trimpath":   "true",
		// -ldflags is not recorded under -trimpath; the symbol table check covers -s.
	} {
		if got := settings[key]; got != want {
			t.Errorf("bootstrap build setting %s = %q; want %q", key, got, want)
		}
	}
}
