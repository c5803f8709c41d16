// Command admin-rejected-replay is the Lambda function behind POST /admin/ingress_webhooks/{id}/rejected/{rejectedId}/replay (IAM-authorized).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

func main() {
	handler, err := app.ColdStart(context.Background(), app.ReplayRejected, "TABLE_NAME")
	if err != nil {
		fmt.Fprintln(os.Stderr, "admin-rejected-replay: cold start failed:", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
