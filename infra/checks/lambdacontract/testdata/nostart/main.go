// Command nostart is a function whose main returns without calling lambda.Start: the
// contract harness must report it as broken.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	_ = func(context.Context, map[string]any) (map[string]any, error) { return nil, nil }
	fmt.Fprintln(os.Stderr, "nostart: returning without lambda.Start")
}
