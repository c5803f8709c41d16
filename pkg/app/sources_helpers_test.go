package app_test

import (
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/secretkey"
)

// openedSecrets opens a stored webhook's sealed signing secrets with the test key.
func openedSecrets(t *testing.T, w *lead.Webhook) []string {
	t.Helper()
	sealer, err := secretkey.NewSealer([]byte(awstest.TokenKey))
	awstest.Must(t, err)
	svc := &lead.IngestService{Sealer: sealer, Now: time.Now}
	keys, err := svc.SigningSecrets(w)
	awstest.Must(t, err)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	return out
}
