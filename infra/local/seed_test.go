package main

import (
	"strings"
	"testing"
)

func TestBannerShowsOrganizationAndAWSCLIv1Hint(t *testing.T) {
	s := &seed{OrganizationID: "org-1", PoolID: "pool-1", WebhookID: "wh-1", Token: "tok", URL: "http://api/public/ingress_webhooks/wh-1",
		LeadStateID: "ls-1", CustomFieldID: "cf-1"}
	var b strings.Builder
	s.print(&b, "127.0.0.1:4999")
	banner := b.String()
	tests := []struct {
		name, want string
	}{
		{"organization id", "organization org-1"},
		{"region for AWS CLI v1", "AWS_DEFAULT_REGION=us-east-1"},
		{"dummy credentials", "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local"},
		{"the README's variables", "\nexport URL=http://api/public/ingress_webhooks/wh-1 TOKEN=tok ID=wh-1 POOL=pool-1 ORG=org-1 FIELD=cf-1 API=http://api ENDPOINT=http://127.0.0.1:4999 QUEUE=http://127.0.0.1:4999/123456789012/rocketlead-local-entry-events-failures\n"},
		{"endpoint flag for AWS CLI v1", "aws --endpoint-url http://127.0.0.1:4999 dynamodb scan --table-name " + localTable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(banner, tt.want) {
				t.Errorf("banner does not contain %q:\n%s", tt.want, banner)
			}
		})
	}
}
