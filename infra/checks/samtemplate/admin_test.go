package samtemplate_test

import (
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestAdminRoutesAreIAMAuthorized checks webhook management: each management endpoint is its own
// function on an AWS_IAM route, the HTTP API enables the IAM authorizer, and the public
// ingress route stays open (its function checks the webhook token).
func TestAdminRoutesAreIAMAuthorized(t *testing.T) {
	p := load(t)
	want := map[string]string{
		"POST /admin/ingress_webhooks":                                   "CreateWebhookFunction",
		"POST /admin/ingress_webhooks/{id}/rotate":                       "RotateWebhookFunction",
		"GET /admin/ingress_webhooks":                                    "ListWebhooksFunction",
		"DELETE /admin/ingress_webhooks/{id}":                            "DeleteWebhookFunction",
		"GET /admin/tables/{tableId}/schema":                             "ShowSchemaFunction",
		"PATCH /admin/tables/{tableId}/schema":                           "PatchSchemaFunction",
		"GET /admin/ingress_webhooks/{id}/rejected":                      "ListRejectedFunction",
		"GET /admin/ingress_webhooks/{id}/rejected/{rejectedId}":         "ShowRejectedFunction",
		"POST /admin/ingress_webhooks/{id}/rejected/{rejectedId}/replay": "ReplayRejectedFunction",
		"DELETE /admin/ingress_webhooks/{id}/rejected/{rejectedId}":      "DiscardRejectedFunction",
		"PATCH /admin/ingress_webhooks/{id}":                             "UpdateWebhookFunction",
		"PUT /admin/ingress_webhooks/{id}/signing-secret":                "SigningSecretFunction",
		"POST /public/ingress_webhooks/{id}":                             "IngressFunction",
	}
	got := map[string]string{}
	auth := map[string]string{}
	for _, f := range effectiveFunctions(t, p) {
		for _, ev := range f.fn.Events {
			if ev.Type != "HttpApi" || ev.Properties == nil || ev.Properties.HttpApiEvent == nil {
				continue
			}
			h := ev.Properties.HttpApiEvent
			key := strings.ToUpper(deref(h.Method)) + " " + deref(h.Path)
			got[key] = f.id
			if h.Auth != nil {
				auth[key] = deref(h.Auth.Authorizer)
			}
		}
	}
	for route, fn := range want {
		if got[route] != fn {
			t.Errorf("route %s is served by %q; want %s", route, got[route], fn)
		}
		wantAuth := "AWS_IAM"
		if strings.Contains(route, "/public/") {
			wantAuth = ""
		}
		if auth[route] != wantAuth {
			t.Errorf("route %s authorizer = %q; want %q", route, auth[route], wantAuth)
		}
	}
	for route := range got {
		if strings.HasPrefix(strings.SplitN(route, " ", 2)[1], "/admin/") && auth[route] != "AWS_IAM" {
			t.Errorf("admin route %s is not IAM-authorized", route)
		}
	}

	resources, _ := p.raw["Resources"].(map[string]any)
	api, _ := resources["HttpApi"].(map[string]any)
	props, _ := api["Properties"].(map[string]any)
	apiAuth, _ := props["Auth"].(map[string]any)
	if apiAuth["EnableIamAuthorizer"] != true {
		t.Errorf("HttpApi Auth.EnableIamAuthorizer = %v; want true (SAM needs it for AWS_IAM routes)", apiAuth["EnableIamAuthorizer"])
	}
	if d, ok := apiAuth["DefaultAuthorizer"]; ok {
		t.Errorf("HttpApi Auth.DefaultAuthorizer = %v; want none, or the public route would need IAM too", d)
	}
}

// newerSAMProperties are SAM properties that goformation v7.14.9 does not know yet and
// rejects as unknown fields, by the mapping that holds them. The typed parse gets the
// template without them; the generic document (p.raw) keeps them, so tests still check them.
var newerSAMProperties = map[string][]string{
	"Auth": {"EnableIamAuthorizer"}, // HttpApi Auth, SAM 1.36
	// Function LoggingConfig (SAM 1.100) and HttpApi AccessLogSettings.
	"Properties": {"LoggingConfig", "AccessLogSettings"},
}

func withoutNewerSAMProperties(t *testing.T, data []byte) []byte {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse template: %v", err)
	}
	var strip func(n *yaml.Node)
	strip = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if drop := newerSAMProperties[n.Content[i].Value]; drop != nil && n.Content[i+1].Kind == yaml.MappingNode {
					m := n.Content[i+1]
					kept := m.Content[:0]
					for j := 0; j+1 < len(m.Content); j += 2 {
						if !slices.Contains(drop, m.Content[j].Value) {
							kept = append(kept, m.Content[j], m.Content[j+1])
						}
					}
					m.Content = kept
				}
			}
		}
		for _, c := range n.Content {
			strip(c)
		}
	}
	strip(&doc)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatalf("re-encode template: %v", err)
	}
	return out
}
