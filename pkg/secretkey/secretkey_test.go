package secretkey_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
	"github.com/rocketlead/ingress-webhooks/pkg/secretkey"
)

func TestLoad(t *testing.T) {
	srv := httptest.NewServer(localaws.New(localaws.Options{Secrets: map[string]string{"key": "k3y", "empty": ""}}))
	defer srv.Close()
	sm := secretsmanager.NewFromConfig(localaws.Config(srv.URL))
	tests := []struct {
		id      string
		want    string
		wantErr bool
	}{
		{"key", "k3y", false},
		{"missing", "", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got, err := secretkey.Load(context.Background(), sm, tt.id)
			if (err != nil) != tt.wantErr || string(got) != tt.want {
				t.Errorf("Load(%q) = %q, %v; want %q, error %v", tt.id, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
