package wire

import (
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"time"
)

func TestParseRotateWebhook(t *testing.T) {
	tests := []struct {
		body  string
		grace time.Duration
		ok    bool
	}{
		{"", 0, true},
		{"  ", 0, true},
		{`{}`, 0, true},
		{`{"gracePeriodSeconds":0}`, 0, true},
		{`{"gracePeriodSeconds":604800}`, 7 * 24 * time.Hour, true},
		{`{"gracePeriodSeconds":604801}`, 0, false},
		{`{"gracePeriodSeconds":-1}`, 0, false},
		{`{"gracePeriodSeconds":1.5}`, 0, false},
		{`{"gracePeriodSeconds":1e3}`, 0, false},
		{`{"gracePeriodSeconds":99999999999999999999}`, 0, false},
		{`{"gracePeriodSeconds":"60"}`, 0, false},
		{`{"gracePeriodSeconds":null}`, 0, false},
		{`{"gracePeriodSeconds":60,"gracePeriodSeconds":60}`, 0, false},
		{`{"gracePeriodSeconds":60} {}`, 0, false},
		{`{"grace":60}`, 0, false},
		{`[]`, 0, false},
	}
	for _, tt := range tests {
		in, err := ParseRotateWebhook("id", []byte(tt.body))
		if (err == nil) != tt.ok || (tt.ok && in.GracePeriod != tt.grace) {
			t.Errorf("ParseRotateWebhook(%q) = %v, %v; want grace %v, ok %v", tt.body, in.GracePeriod, err, tt.grace, tt.ok)
		}
		if err != nil && lead.ErrorCode(err) != lead.EINVALID {
			t.Errorf("ParseRotateWebhook(%q) error code = %s; want lead.EINVALID", tt.body, lead.ErrorCode(err))
		}
	}
}

func TestParseListWebhooks(t *testing.T) {
	org := "0b7e5a43-7d0c-4b8e-9d1a-2f3c4d5e6f70"
	tests := []struct {
		query map[string]string
		limit int
		ok    bool
	}{
		{map[string]string{"organizationId": org}, 0, true},
		{map[string]string{"organizationId": org, "limit": "100", "cursor": "c"}, 100, true},
		{map[string]string{"organizationId": org, "limit": "ten"}, 0, false},
		{map[string]string{"organizationId": org, "limit": "0"}, 0, false},
		{map[string]string{"organizationId": org, "extra": "1"}, 0, false},
		{map[string]string{}, 0, false},
		{nil, 0, false},
	}
	for _, tt := range tests {
		in, err := ParseListWebhooks(tt.query)
		if (err == nil) != tt.ok || (tt.ok && in.Limit != tt.limit) {
			t.Errorf("ParseListWebhooks(%v) = %+v, %v; want limit %d, ok %v", tt.query, in, err, tt.limit, tt.ok)
		}
	}
}
