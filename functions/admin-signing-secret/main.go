// Command admin-signing-secret is the Lambda function behind PUT /admin/ingress_webhooks/{id}/signing-secret (IAM-authorized).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

func main() {
	handler, err := app.ColdStart(context.Background(), app.SetSigningSecret, "TABLE_NAME", "TOKEN_KEY_SECRET_ID")
	if err != nil {
		fmt.Fprintln(os.Stderr, "admin-signing-secret: cold start failed:", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
