// Command admin-schema-get is the Lambda function behind GET /admin/tables/{tableId}/schema (IAM-authorized).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

func main() {
	handler, err := app.ColdStart(context.Background(), app.ShowSchema, "TABLE_NAME")
	if err != nil {
		fmt.Fprintln(os.Stderr, "admin-schema-get: cold start failed:", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
