package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// sourceOptions are the native source flags of webhook create and set.
type sourceOptions struct {
	source, mapping, secret *string
}

func sourceFlags(fs *flag.FlagSet) sourceOptions {
	return sourceOptions{
		source:  fs.String("source", "", "the webhook's source: rocketlead, google-ads, typeform, tally, webflow, standard-webhooks, jotform, unbounce"),
		mapping: fs.String("mapping", "", `data key → JSON Pointer, as JSON ({"email": "/data/email"}); null clears it`),
		secret:  fs.String("signing-secret", "", "a signing secret the vendor generated (Webflow's, Tally's); without it one is generated for a signed source"),
	}
}

// input turns the flags that were set into the source part of a create or update.
func (o sourceOptions) input(fs *flag.FlagSet, name string) (lead.SourceInput, error) {
	var in lead.SourceInput
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["source"] {
		in.Source = o.source
	}
	if set["signing-secret"] {
		in.SigningSecret = o.secret
	}
	if set["mapping"] {
		var m map[string]string
		if err := json.Unmarshal([]byte(*o.mapping), &m); err != nil {
			return in, usageError{fmt.Sprintf("%s: --mapping must be a JSON object of strings or null: %v", name, err)}
		}
		in.Mapping = &m
	}
	return in, nil
}

// withSecret adds a generated signing secret, shown once, under a table.
func withSecret(rows [][]string, secret string) [][]string {
	return withNote(rows, "SIGNING SECRET (shown once; paste it into the vendor's webhook settings): ", secret)
}

func webhookSigningSecret(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	id := fs.String("id", "", "webhook id")
	secret := fs.String("secret", "", "the vendor's secret (Webflow's, Tally's); without it one is generated and shown once")
	grace := fs.Duration("grace", 0, "keep the replaced secret valid this long (whole seconds, at most 168h)")
	s, err := parse(ctx, fs, args, out, getenv, "id")
	if err != nil {
		return err
	}
	svc, err := s.webhooks(ctx, true)
	if err != nil {
		return err
	}
	r, err := svc.RotateSigningSecret(ctx, lead.SecretRotation{WebhookID: *id, Secret: *secret, GracePeriod: *grace})
	if err != nil {
		return err
	}
	until := "now (no grace period)"
	if !r.PreviousSecretExpiresAt.IsZero() {
		until = lead.FormatTime(r.PreviousSecretExpiresAt)
	}
	rows := [][]string{{"ID", "SOURCE", "SET AT", "OLD SECRET VALID UNTIL"}, {r.ID, r.Source, lead.FormatTime(r.RotatedAt), until}}
	return s.print(wire.ViewRotatedSecret(r), withSecret(rows, r.SigningSecret))
}
