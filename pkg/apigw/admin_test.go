package apigw_test

import (
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
)

func TestPublicURL(t *testing.T) {
	const id = "0b7e5a43-7d0c-4b8e-9d1a-2f3c4d5e6f70"
	req := func(domain, stage string, headers map[string]string) apigw.Request {
		r := apigw.Request{Headers: headers}
		r.RequestContext.DomainName = domain
		r.RequestContext.Stage = stage
		return r
	}
	tests := []struct {
		name string
		req  apigw.Request
		base string
		want string
	}{
		{"default stage", req("abc.execute-api.eu-west-1.amazonaws.com", "$default", nil), "",
			"https://abc.execute-api.eu-west-1.amazonaws.com/public/ingress_webhooks/" + id},
		{"named stage", req("abc.execute-api.eu-west-1.amazonaws.com", "prod", map[string]string{"x-forwarded-proto": "https"}), "",
			"https://abc.execute-api.eu-west-1.amazonaws.com/prod/public/ingress_webhooks/" + id},
		{"local front over http", req("127.0.0.1:3000", "$default", map[string]string{"X-Forwarded-Proto": "http"}), "",
			"http://127.0.0.1:3000/public/ingress_webhooks/" + id},
		{"unknown proto stays https", req("example.com", "", map[string]string{"x-forwarded-proto": "gopher"}), "",
			"https://example.com/public/ingress_webhooks/" + id},
		{"configured base wins", req("abc.execute-api.eu-west-1.amazonaws.com", "prod", nil), "https://hooks.example.com/",
			"https://hooks.example.com/public/ingress_webhooks/" + id},
		{"no domain", req("", "", nil), "", "/public/ingress_webhooks/" + id},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apigw.PublicURL(tt.req, tt.base, id); got != tt.want {
				t.Errorf("PublicURL(%s) = %q; want %q", tt.name, got, tt.want)
			}
		})
	}
}
