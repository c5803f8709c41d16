// Command entry-events is the Lambda function that consumes the table's DynamoDB stream and
// publishes table.entry.added to EventBridge for every committed entry.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/app/entryevents"
)

func main() {
	handler, err := app.ColdStart(context.Background(), entryevents.EntryEvents)
	if err != nil {
		fmt.Fprintln(os.Stderr, "entry-events: cold start failed:", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}
