package samtemplate_test

import (
	"strconv"
	"testing"

	"github.com/rocketlead/ingress-webhooks/infra/template"
	"github.com/rocketlead/ingress-webhooks/pkg/app/lambdas"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// TestHTTPFunctionsTimeoutIsTheBudgets: the request budget's derived times (the observer's
// function deadline outside Lambda, the store's settle time) assume that every HTTP
// function's timeout in template.yaml is lead.FunctionTimeout.
func TestHTTPFunctionsTimeoutIsTheBudgets(t *testing.T) {
	tf, err := template.Load(templateFile)
	if err != nil {
		t.Fatalf("template.Load(%s): %v", templateFile, err)
	}
	fns, err := tf.Functions()
	if err != nil {
		t.Fatal(err)
	}
	timeout := map[string]string{}
	for _, f := range fns {
		timeout[f.LogicalID] = f.Timeout
	}
	want := strconv.Itoa(int(lead.FunctionTimeout.Seconds()))
	for _, fn := range lambdas.Functions() {
		if fn.HTTP == nil {
			continue
		}
		if got := timeout[fn.LogicalID]; got != want {
			t.Errorf("%s Timeout = %q; want %s (lead.FunctionTimeout)", fn.LogicalID, got, want)
		}
	}
}
