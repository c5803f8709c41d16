package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

// countingServer is a local AWS endpoint that counts the requests it serves.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	aws := localaws.New(localaws.Options{Secrets: map[string]string{"k": "v"}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		aws.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestLambdaConfigHonoursTheSDKEndpointVariables(t *testing.T) {
	global, globalHits := countingServer(t)
	dynamo, dynamoHits := countingServer(t)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "session")
	t.Setenv("AWS_ENDPOINT_URL", global.URL)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamo.URL)

	cfg, err := app.LambdaConfig(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("Region = %q; want eu-west-1", cfg.Region)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKIDLOCAL" || creds.SessionToken != "session" {
		t.Errorf("Credentials = %+v, %v; want the role's variables", creds, err)
	}
	ctx := context.Background()
	if _, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("none")}); err == nil {
		t.Error("DescribeTable of a missing table succeeded")
	}
	if _, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("k")}); err != nil {
		t.Errorf("GetSecretValue through AWS_ENDPOINT_URL: %v", err)
	}
	if dynamoHits.Load() != 1 || globalHits.Load() != 1 {
		t.Errorf("requests: DynamoDB endpoint %d, global endpoint %d; want 1 and 1", dynamoHits.Load(), globalHits.Load())
	}
}

func TestLambdaConfigNeedsRegionAndCredentials(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"no region", map[string]string{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}},
		{"no credentials", map[string]string{"AWS_REGION": "us-east-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := app.LambdaConfig(func(k string) string { return tt.env[k] }); err == nil {
				t.Errorf("LambdaConfig(%v) succeeded; want an error", tt.env)
			}
		})
	}
}
