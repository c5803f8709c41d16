package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

func TestIngestReadsPoolCacheSeconds(t *testing.T) {
	env := awstest.Start(t)
	tests := []struct {
		name    string
		value   string
		wantErr bool
	}{
		{"empty is the 5 s default", "", false},
		{"0 turns the cache off", "0", false},
		{"300 is the largest", "300", false},
		{"past 300 is refused", "301", true},
		{"negative is refused", "-1", true},
		{"not a number is refused", "5s", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env.App
			e.PoolCacheSeconds = tt.value
			_, err := app.Ingest(context.Background(), env.Config, e, e.Logger())
			if (err != nil) != tt.wantErr || (err != nil && !strings.Contains(err.Error(), "POOL_CACHE_SECONDS")) {
				t.Errorf("Ingest with POOL_CACHE_SECONDS=%q: %v; want error %v naming the variable", tt.value, err, tt.wantErr)
			}
		})
	}
}
