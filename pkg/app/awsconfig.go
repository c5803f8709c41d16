package app

import (
	"fmt"
	"strings"

	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// LambdaConfig returns the aws.Config a function runs with, built from the variables the
// Lambda runtime sets: AWS_REGION and the role's AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
// and AWS_SESSION_TOKEN. It honours the SDK's endpoint variables AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_<SERVICE> (DYNAMODB, SECRETS_MANAGER, EVENTBRIDGE) the way the SDK does,
// so one binary talks to AWS, the local runner or any emulator.
//
// It stands in for config.LoadDefaultConfig, which also links shared-config files, SSO,
// STS and instance-metadata code a function never uses: about 2 MB of every bootstrap.
func LambdaConfig(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return aws.Config{}, fmt.Errorf("AWS_REGION is not set")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
	}
	cfg := aws.Config{
		Region:        region,
		Credentials:   credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN")),
		ConfigSources: []any{endpointSource(getenv)},
	}
	if u := getenv("AWS_ENDPOINT_URL"); u != "" {
		cfg.BaseEndpoint = aws.String(u)
	}
	return cfg, nil
}

// endpointSource answers the service clients' question for a service-specific endpoint
// (AWS_ENDPOINT_URL_<SERVICE>, the SDK id upper-cased with spaces as underscores).
type endpointSource func(string) string

// GetServiceBaseEndpoint implements the SDK's service base endpoint provider.
func (getenv endpointSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v := getenv("AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(sdkID, " ", "_")))
	return v, v != "", nil
}
