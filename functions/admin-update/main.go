// Command admin-update is the Lambda function behind PATCH /admin/ingress_webhooks/{id} (IAM-authorized): turns ?token= on or off, sets the form settings.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

func main() {
	handler, err := app.ColdStart(context.Background(), app.UpdateWebhook, "TABLE_NAME", "TOKEN_KEY_SECRET_ID")
	if err != nil {
		fmt.Fprintln(os.Stderr, "admin-update: cold start failed:", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
