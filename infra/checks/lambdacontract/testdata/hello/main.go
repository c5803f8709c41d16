// Command hello is the baseline of the cold-start benchmark: the smallest Go Lambda, built
// by the same Makefile rule and flags as the functions.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, map[string]any) (map[string]any, error) {
		return map[string]any{"statusCode": 200, "body": "hello"}, nil
	})
}
