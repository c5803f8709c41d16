// Command rlctl is the operator CLI of RocketLead ingress webhooks: what the RocketLead
// console does, from a terminal. It manages lead pools, their lead states and schemas,
// organizations' custom fields, webhooks and the requests a webhook refused, against AWS
// (the SDK's normal credential chain and region) or against the local runner (--endpoint
// http://127.0.0.1:4566). It calls the same services and store as the Lambda functions.
//
//	go run ./infra/ops/rlctl <noun> <verb> [flags]
//
//	pool create --org ID --name NAME [--lead-state New]
//	pool get --pool ID
//	lead-state add --pool ID --name NAME
//	lead-state list --pool ID
//	lead-state set-default --pool ID --id STATE
//	lead-state delete --pool ID --id STATE
//	custom-field create --org ID --name NAME --type text|number|boolean|date|select|multiselect [--options a,b]
//	custom-field list --org ID
//	custom-field delete --org ID --id FIELD
//	webhook create --org ID --pool ID --name NAME [--allow-query-token]
//	webhook rotate --id WEBHOOK [--grace 1h]
//	webhook list --org ID [--limit N] [--cursor C]
//	webhook delete --id WEBHOOK
//	webhook set --id WEBHOOK [--allow-query-token true|false] [--source S] [--mapping JSON] [--signing-secret SECRET]
//	webhook signing-secret --id WEBHOOK [--secret SECRET] [--grace 1h]
//	schema show --pool ID
//	schema set --pool ID --keys KEY=TYPE[,KEY=TYPE…]   (types: string, number, boolean, string[])
//	schema unlock --pool ID --keys KEY[,KEY…]
//	rejected list --webhook ID [--limit N] [--cursor C]
//	rejected show --webhook ID --id REJECTED
//	rejected replay --webhook ID (--id REJECTED | --all [--error "Validation failed"])
//	rejected discard --webhook ID --id REJECTED
//	events redrive --queue-url URL [--event-bus NAME] [--event-source SOURCE]
//
// Every command takes --endpoint URL, --table-name NAME (env TABLE_NAME), --secret-id ID
// (env TOKEN_KEY_SECRET_ID), --base-url URL (env PUBLIC_BASE_URL) and --json. Output is a
// table, or JSON with --json. Tokens are printed only by webhook create and webhook rotate.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Getenv)
	var u usageError
	switch {
	case errors.As(err, &u):
		fmt.Fprintln(os.Stderr, "rlctl:", err)
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "rlctl:", describe(err))
		os.Exit(1)
	}
}

// usageError is a command line the CLI cannot run.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage: rlctl <noun> <verb> [flags]

  pool create --org ID --name NAME [--lead-state New]
  pool get --pool ID
  lead-state add --pool ID --name NAME
  lead-state list --pool ID
  lead-state set-default --pool ID --id STATE
  lead-state delete --pool ID --id STATE
  custom-field create --org ID --name NAME --type text|number|boolean|date|select|multiselect [--options a,b]
  custom-field list --org ID
  custom-field delete --org ID --id FIELD
  webhook create --org ID --pool ID --name NAME [--allow-query-token] [--source S] [--mapping JSON] [--signing-secret SECRET]
      [--rate-limit N|default] [--rate-burst N|default]   (requests a second, and at once)
      sources: rocketlead (default), google-ads, typeform, tally, webflow, standard-webhooks, jotform, unbounce
  webhook rotate --id WEBHOOK [--grace 1h]
  webhook list --org ID [--limit N] [--cursor C]
  webhook delete --id WEBHOOK
  webhook set --id WEBHOOK [--allow-query-token true|false] [--source S] [--mapping JSON|null] [--signing-secret SECRET]
      [--rate-limit N|default] [--rate-burst N|default]
  webhook signing-secret --id WEBHOOK [--secret THE-VENDORS] [--grace 1h]   (generated, shown once, without --secret)
  schema show --pool ID
  schema set --pool ID --keys KEY=TYPE[,KEY=TYPE…]   (types: string, number, boolean, string[])
  schema unlock --pool ID --keys KEY[,KEY…]
  rejected list --webhook ID [--limit N] [--cursor C]
  rejected show --webhook ID --id REJECTED
  rejected replay --webhook ID (--id REJECTED | --all [--error "Validation failed"] [--rate N])   (--all: at most the webhook's rateLimit a second)
  rejected discard --webhook ID --id REJECTED
  events redrive --queue-url URL [--event-bus NAME] [--event-source SOURCE]
      publish again table.entry.added for the entries the entry-events failure queue names
      (from the stream while it holds them, else from the table); deletes each message done

common flags:
  --endpoint URL     AWS endpoint (the local runner: http://127.0.0.1:4566); default: AWS
  --table-name NAME  DynamoDB table (env TABLE_NAME; rocketlead-local with --endpoint)
  --secret-id ID     token key secret (env TOKEN_KEY_SECRET_ID; rocketlead/local/token-key with --endpoint)
  --base-url URL     base of printed webhook URLs (env PUBLIC_BASE_URL; http://127.0.0.1:3000 with --endpoint)
  --json             print JSON instead of a table
`

// run executes one command line, writing its result to out.
func run(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	if len(args) < 2 || strings.HasPrefix(args[1], "-") {
		return usageError{"a noun and a verb are required"}
	}
	cmd, ok := commands[args[0]+" "+args[1]]
	if !ok {
		return usageError{fmt.Sprintf("unknown command %q", args[0]+" "+args[1])}
	}
	return cmd(ctx, args[0]+" "+args[1], args[2:], out, getenv)
}
