// Command ingress is the Lambda function behind POST /public/ingress_webhooks/{id}.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

func main() {
	ctx := context.Background()
	env, err := app.EnvFrom(os.Getenv, "TABLE_NAME", "TOKEN_KEY_SECRET_ID")
	if err != nil {
		fail(err)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fail(fmt.Errorf("load AWS config: %w", err))
	}
	handler, err := app.Ingress(ctx, cfg, env, env.Logger())
	if err != nil {
		fail(err)
	}
	lambda.Start(handler)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ingress: cold start failed:", err)
	os.Exit(1)
}
