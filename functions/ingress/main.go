// Command ingress is the Lambda function behind POST /public/ingress_webhooks/{id}.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

func main() {
	handler, err := app.ColdStart(context.Background(), app.Ingest, "TABLE_NAME", "TOKEN_KEY_SECRET_ID")
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingress: cold start failed:", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
