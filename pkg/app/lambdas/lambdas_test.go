package lambdas_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/app/lambdas"
)

// clientsOnlyOf are the AWS clients only some functions call: a function links one only when
// it calls it.
var clientsOnlyOf = map[string][]string{
	"github.com/aws/aws-sdk-go-v2/service/eventbridge":     {"EntryEventsFunction"},
	"github.com/aws/aws-sdk-go-v2/service/sqs":             nil,
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams": nil,
}

func TestEachFunctionLinksOnlyTheClientsItCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("lists every function's dependencies with the go command")
	}
	for _, fn := range lambdas.Functions() {
		t.Run(fn.LogicalID, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "../../../functions/"+fn.Folder).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps functions/%s: %v\n%s", fn.Folder, err, out)
			}
			deps := map[string]bool{}
			for _, p := range strings.Fields(string(out)) {
				deps[p] = true
			}
			for client, users := range clientsOnlyOf {
				want := false
				for _, u := range users {
					want = want || u == fn.LogicalID
				}
				if deps[client] != want {
					t.Errorf("functions/%s links %s: %v; want %v", fn.Folder, client, deps[client], want)
				}
			}
		})
	}
}

func TestIngressBootstrapHasNoEventBridgeClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the ingress bootstrap")
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bin, "../../../functions/ingress")
	build.Env = append(build.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ingress: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/aws/aws-sdk-go-v2/service/dynamodb") {
		t.Fatalf("go version -m lists no DynamoDB client; the check reads the wrong thing:\n%s", out)
	}
	for client := range clientsOnlyOf {
		if strings.Contains(string(out), client+"\t") || strings.Contains(string(out), client+" ") {
			t.Errorf("the ingress bootstrap links %s", client)
		}
	}
}
