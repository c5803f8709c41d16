package samtemplate_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/infra/template"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
)

const (
	samLocalEnvFile = repoRoot + "/infra/samlocal/env.json"
	samConfigFile   = repoRoot + "/samconfig.toml"
	readmeFile      = repoRoot + "/README.md"
	infraReadmeFile = repoRoot + "/infra/README.md"
	// runnerAWSPort is the local runner's default -aws-addr port, which the functions of
	// sam local reach from their containers.
	runnerAWSPort = "4566"
)

// samSetVariables are set by sam local itself (from the AWS profile): the env file may
// repeat them for documentation, though the template does not declare them.
var samSetVariables = map[string]bool{
	"AWS_REGION":            true,
	"AWS_DEFAULT_REGION":    true,
	"AWS_ACCESS_KEY_ID":     true,
	"AWS_SECRET_ACCESS_KEY": true,
	"AWS_SESSION_TOKEN":     true,
}

// TestTableMatchesTheStoreCode compares the table of template.yaml with the constants
// pkg/dynamo writes and queries with: key attributes, the index, the TTL attribute and the
// stream view the entry-events consumer decodes.
func TestTableMatchesTheStoreCode(t *testing.T) {
	p := load(t)
	tbl, err := p.tpl.GetDynamoDBTableWithName("Table")
	if err != nil {
		t.Fatalf("resource Table: %v", err)
	}
	keys := map[string]string{}
	for _, k := range tbl.KeySchema {
		keys[k.KeyType] = k.AttributeName
	}
	gsiKeys := map[string]string{}
	for _, g := range tbl.GlobalSecondaryIndexes {
		if g.IndexName == dynamo.GSI1Name {
			for _, k := range g.KeySchema {
				gsiKeys[k.KeyType] = k.AttributeName
			}
		}
	}
	checks := []struct {
		name      string
		got, want string
	}{
		{"HASH key", keys["HASH"], dynamo.PartitionKey},
		{"RANGE key", keys["RANGE"], dynamo.SortKey},
		{"index " + dynamo.GSI1Name + " HASH key", gsiKeys["HASH"], dynamo.GSI1PartitionKey},
		{"index " + dynamo.GSI1Name + " RANGE key", gsiKeys["RANGE"], dynamo.GSI1SortKey},
		{"TimeToLive attribute", ttl(tbl.TimeToLiveSpecification), dynamo.TTLAttribute + " enabled"},
		{"StreamViewType", streamViewType(tbl.StreamSpecification), "NEW_IMAGE"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("Table %s = %q; want %q (pkg/dynamo)", c.name, c.got, c.want)
		}
	}
}

// TestSAMLocalEnvFileMatchesTemplate checks infra/samlocal/env.json, which points the
// functions of `sam local start-api` at the local runner: one section per function of the
// template, only variables the template declares (sam local ignores the others), a local
// value for every variable only AWS can resolve, and AWS_ENDPOINT_URL on the runner.
func TestSAMLocalEnvFileMatchesTemplate(t *testing.T) {
	b, err := os.ReadFile(samLocalEnvFile)
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]map[string]string
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("%s is not a JSON object of objects of strings: %v", samLocalEnvFile, err)
	}
	p := load(t)
	fns := map[string]bool{}
	for _, f := range effectiveFunctions(t, p) {
		fns[f.id] = true
		t.Run(f.id, func(t *testing.T) {
			local, ok := file[f.id]
			if !ok {
				t.Fatalf("%s has no %q section: sam local would run it against AWS", samLocalEnvFile, f.id)
			}
			for name := range local {
				if _, declared := f.env[name]; !declared && !samSetVariables[name] {
					t.Errorf("%s sets %s for %s, which the template does not declare: sam local ignores it", samLocalEnvFile, name, f.id)
				}
			}
			for name, value := range f.env {
				onlyAWS := template.IsUnresolved(value)
				if _, set := local[name]; onlyAWS && !set {
					t.Errorf("%s gives %s no local value for %s (%s in the template)", samLocalEnvFile, f.id, name, value)
				}
			}
			endpoint := local["AWS_ENDPOINT_URL"]
			if !strings.HasPrefix(endpoint, "http://") || !strings.HasSuffix(endpoint, ":"+runnerAWSPort) {
				t.Errorf("%s AWS_ENDPOINT_URL = %q; want the local runner, http://<host>:%s", f.id, endpoint, runnerAWSPort)
			}
		})
	}
	for id := range file {
		if id != "Parameters" && !fns[id] {
			t.Errorf("%s has a section %q, which is not a function of the template", samLocalEnvFile, id)
		}
	}

	cfg, err := os.ReadFile(samConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), `env_vars = "infra/samlocal/env.json"`) {
		t.Errorf("%s does not set env_vars = \"infra/samlocal/env.json\" for sam local", samConfigFile)
	}
}

var readmeHeadingRE = regexp.MustCompile(`(?m)^##+ (.+)$`)

// readmeSection returns the text of the Markdown section whose heading starts with title.
func readmeSection(t *testing.T, readme, title string) string {
	t.Helper()
	locs := readmeHeadingRE.FindAllStringSubmatchIndex(readme, -1)
	for i, loc := range locs {
		if !strings.HasPrefix(readme[loc[2]:loc[3]], title) {
			continue
		}
		end := len(readme)
		level := strings.Index(readme[loc[0]:], " ")
		for _, next := range locs[i+1:] {
			if strings.Index(readme[next[0]:], " ") <= level {
				end = next[0]
				break
			}
		}
		return readme[loc[1]:end]
	}
	t.Fatalf("no section %q", title)
	return ""
}

// TestREADMEDeployLocalAndTroubleshooting keeps the deploy and troubleshooting sections of
// the README and the sam local section of infra/README.md honest: the deploy steps, the sam
// local steps with the runner address and port that samconfig.toml and
// infra/samlocal/env.json use, and a troubleshooting row for every error status.
func TestREADMEDeployLocalAndTroubleshooting(t *testing.T) {
	cfg, err := os.ReadFile(samConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	port := regexp.MustCompile(`(?m)^port = (\d+)`).FindStringSubmatch(string(cfg))
	if port == nil {
		t.Fatalf("%s sets no sam local port", samConfigFile)
	}
	sections := []struct {
		file, title string
		want        []string
	}{
		{readmeFile, "Deploy", []string{"sam build", "sam deploy --guided", "IngressBaseUrl", "POST /admin/ingress_webhooks", "x-rocketlead-ingress-token"}},
		{infraReadmeFile, "Local with sam local start-api", []string{"-aws-addr 0.0.0.0:" + runnerAWSPort, "sam build", "sam local start-api",
			"infra/samlocal/env.json", "127.0.0.1:" + port[1]}},
		{readmeFile, "Troubleshooting", []string{"| 400 ", "| 401 ", "| 404 ", "| 413 ", "| 422 ", "| 500 ", "| 502 ", "| 403 "}},
	}
	for _, s := range sections {
		b, err := os.ReadFile(s.file)
		if err != nil {
			t.Fatal(err)
		}
		text := readmeSection(t, string(b), s.title)
		for _, w := range s.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s section %q does not mention %q", s.file, s.title, w)
			}
		}
	}
}
