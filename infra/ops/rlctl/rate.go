package main

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// rateFlagSet holds the rate flags of webhook create and set.
type rateFlagSet struct{ limit, burst *string }

// rateFlags declares --rate-limit and --rate-burst on fs.
func rateFlags(fs *flag.FlagSet) rateFlagSet {
	return rateFlagSet{
		limit: fs.String("rate-limit", "", `requests a second the webhook takes (1-1000; "default": the service's default)`),
		burst: fs.String("rate-burst", "", `requests the webhook takes at once (from the limit to 10 times it; "default": twice the limit)`),
	}
}

// input is the rate part of a create or update: nil for a flag not given, 0 for "default".
func (r rateFlagSet) input(name string) (lead.RateInput, error) {
	var in lead.RateInput
	for _, f := range []struct {
		flag string
		v    string
		dst  **int
	}{{"--rate-limit", *r.limit, &in.RateLimit}, {"--rate-burst", *r.burst, &in.RateBurst}} {
		switch f.v {
		case "":
			continue
		case "default":
			zero := 0
			*f.dst = &zero
			continue
		}
		n, err := strconv.Atoi(f.v)
		if err != nil || n < 1 {
			return in, usageError{fmt.Sprintf("%s: %s must be a whole number, at least 1, or default", name, f.flag)}
		}
		*f.dst = &n
	}
	return in, nil
}

// rateCell shows a webhook's rate limit and burst.
func rateCell(w lead.WebhookSummary) string {
	return fmt.Sprintf("%d/s, burst %d", w.RateLimit, w.RateBurst)
}
