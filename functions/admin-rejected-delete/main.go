// Command admin-rejected-delete is the Lambda function behind DELETE /admin/ingress_webhooks/{id}/rejected/{rejectedId} (IAM-authorized).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

func main() {
	handler, err := app.ColdStart(context.Background(), app.DiscardRejected, "TABLE_NAME")
	if err != nil {
		fmt.Fprintln(os.Stderr, "admin-rejected-delete: cold start failed:", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
