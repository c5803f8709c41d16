package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// progressOut is where rejected replay --all writes its progress line (the result goes to
// out, so --json output stays one JSON document).
var progressOut io.Writer = os.Stderr

func (s *session) rejected() (app.RejectedRequests, error) {
	return app.RejectedAdmin(s.cfg, s.env())
}

func rejectedList(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	webhook := fs.String("webhook", "", "webhook id")
	limit := fs.Int("limit", 0, "page size (1-100)")
	cursor := fs.String("cursor", "", "cursor of the next page")
	s, err := parse(ctx, fs, args, out, getenv, "webhook")
	if err != nil {
		return err
	}
	svc, err := s.rejected()
	if err != nil {
		return err
	}
	if *limit < 0 || *limit > lead.MaxListLimit {
		return usageError{fmt.Sprintf("%s: --limit must be from 1 to %d", name, lead.MaxListLimit)}
	}
	page, err := svc.List(ctx, *webhook, *limit, *cursor)
	if err != nil {
		return err
	}
	v := wire.ViewRejectedPage(page)
	rows := [][]string{{"ID", "RECEIVED", "ERROR", "CONTENT TYPE"}}
	for _, r := range page.Rejected {
		rows = append(rows, []string{r.ID, lead.FormatTime(r.ReceivedAt), r.ErrorReason, r.ContentType})
	}
	if page.NextCursor != "" {
		rows = append(rows, []string{"next page: --cursor " + page.NextCursor})
	}
	return s.print(v, rows)
}

func rejectedShow(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	webhook := fs.String("webhook", "", "webhook id")
	id := fs.String("id", "", "rejected request id")
	s, err := parse(ctx, fs, args, out, getenv, "webhook", "id")
	if err != nil {
		return err
	}
	svc, err := s.rejected()
	if err != nil {
		return err
	}
	r, err := svc.Show(ctx, *webhook, *id)
	if err != nil {
		return err
	}
	v := wire.ViewRejected(r, true)
	body := v.BodyBase64
	if v.Body != nil {
		body = *v.Body
	}
	rows := [][]string{
		{"ID", r.ID}, {"RECEIVED", lead.FormatTime(r.ReceivedAt)}, {"CONTENT TYPE", r.ContentType},
		{"IDEMPOTENCY KEY", r.IdempotencyKey}, {"ERROR", string(r.ErrorBody)}, {"BODY", body},
	}
	return s.print(v, rows)
}

func rejectedDiscard(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	webhook := fs.String("webhook", "", "webhook id")
	id := fs.String("id", "", "rejected request id")
	s, err := parse(ctx, fs, args, out, getenv, "webhook", "id")
	if err != nil {
		return err
	}
	svc, err := s.rejected()
	if err != nil {
		return err
	}
	if err := svc.Discard(ctx, *webhook, *id); err != nil {
		return err
	}
	return s.print(map[string]any{"id": *id, "discarded": true}, [][]string{{"DISCARDED"}, {*id}})
}

// replayRequestID names a replay run from the CLI in the error it records.
func replayRequestID() string {
	id, err := lead.NewID()
	if err != nil {
		return "rlctl"
	}
	return "rlctl-" + id
}

// replaySummary is what rejected replay --all reports.
type replaySummary struct {
	Replayed      int            `json:"replayed"`
	StillRejected int            `json:"stillRejected"`
	ByError       map[string]int `json:"stillRejectedByError"`
	Gone          int            `json:"gone"`
	Failed        int            `json:"failed"`
}

func rejectedReplay(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	webhook := fs.String("webhook", "", "webhook id")
	id := fs.String("id", "", "rejected request id (or --all)")
	all := fs.Bool("all", false, "replay every kept rejected request of the webhook")
	errFilter := fs.String("error", "", `with --all, only those whose error is this reason (e.g. "Validation failed")`)
	rate := fs.Int("rate", 0, "with --all, at most this many replays a second (default and ceiling: the webhook's rateLimit)")
	s, err := parse(ctx, fs, args, out, getenv, "webhook")
	if err != nil {
		return err
	}
	if *all == (*id != "") {
		return usageError{name + ": pass --id ID or --all"}
	}
	svc, err := s.rejected()
	if err != nil {
		return err
	}
	if !*all {
		return replayOne(ctx, s, svc, *webhook, *id)
	}
	if *rate < 0 {
		return usageError{name + ": --rate must be a whole number of replays a second"}
	}
	pace, err := replayPace(ctx, svc, *webhook, *rate, getenv)
	if err != nil {
		return err
	}
	ids, err := rejectedIDs(ctx, svc, *webhook, *errFilter)
	if err != nil {
		return err
	}
	return replayAll(ctx, s, svc, *webhook, ids, pace)
}

// replayOne replays one kept request and prints the entry it made.
func replayOne(ctx context.Context, s *session, svc app.RejectedRequests, webhook, id string) error {
	res, err := svc.Replay(ctx, webhook, id, replayRequestID())
	if err != nil {
		return err
	}
	body, err := wire.EntryJSON(res.Entry)
	if err != nil {
		return err
	}
	var entry map[string]any
	if err := json.Unmarshal(body, &entry); err != nil {
		return fmt.Errorf("read replayed entry: %w", err)
	}
	return s.print(entry, [][]string{{"ENTRY ID", "REPLAYED REQUEST"}, {fmt.Sprint(entry["id"]), id}})
}

// rejectedIDs lists the ids of a webhook's kept requests whose error reason is errFilter
// (any, when empty), oldest first: the order they arrived in. The ids are collected before
// any replay, since replaying deletes, which would shift the pages being read.
func rejectedIDs(ctx context.Context, svc app.RejectedRequests, webhook, errFilter string) ([]string, error) {
	var ids []string
	for cursor := ""; ; {
		page, err := svc.List(ctx, webhook, lead.MaxListLimit, cursor)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Rejected {
			if errFilter == "" || r.ErrorReason == errFilter {
				ids = append(ids, r.ID)
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	slices.Reverse(ids)
	return ids, nil
}

// replayPace is how many replays a second --all sends: the webhook's rateLimit (its own,
// else RATE_LIMIT_DEFAULT, else the built-in default), or rate when it is lower. Bulk
// replays thus never take more than the webhook's own senders may.
func replayPace(ctx context.Context, svc app.RejectedRequests, webhook string, rate int, getenv func(string) string) (int, error) {
	if !lead.IsUUID(webhook) {
		return 0, lead.Errorf(lead.ENOTFOUND, "no webhook has this id")
	}
	wh, err := svc.Ingest.Store.Webhook(ctx, strings.ToLower(webhook))
	if err != nil {
		return 0, err
	}
	if wh == nil {
		return 0, lead.Errorf(lead.ENOTFOUND, "no webhook has this id")
	}
	defaults := lead.DefaultRates()
	if n, err := strconv.Atoi(getenv("RATE_LIMIT_DEFAULT")); err == nil && n >= lead.MinRateLimit && n <= lead.MaxRateLimit {
		defaults = lead.RateDefaults{Limit: n, Burst: 2 * n}
	}
	limit, _ := defaults.For(wh)
	if rate > 0 && rate < limit {
		return rate, nil
	}
	return limit, nil
}

// replayAll replays each of ids, at most pace a second, with a progress line that shows
// the pace, then prints the summary; it fails when a replay failed (not when a request is
// still refused: that is its answer).
func replayAll(ctx context.Context, s *session, svc app.RejectedRequests, webhook string, ids []string, pace int) error {
	sum := replaySummary{ByError: map[string]int{}}
	start := time.Now()
	for i, rid := range ids {
		// The i-th replay starts no sooner than i/pace seconds in.
		if wait := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(pace))); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		_, err := svc.Replay(ctx, webhook, rid, replayRequestID())
		sum.count(rid, err)
		fmt.Fprintf(progressOut, "\rreplaying %d/%d at %d/s (the webhook's limit or --rate): %d replayed, %d still rejected",
			i+1, len(ids), pace, sum.Replayed, sum.StillRejected)
	}
	if len(ids) > 0 {
		fmt.Fprintln(progressOut)
	}
	rows := [][]string{{"REPLAYED", "STILL REJECTED", "GONE", "FAILED"},
		{fmt.Sprint(sum.Replayed), fmt.Sprint(sum.StillRejected), fmt.Sprint(sum.Gone), fmt.Sprint(sum.Failed)}}
	for _, reason := range slices.Sorted(maps.Keys(sum.ByError)) {
		rows = append(rows, []string{"  still rejected: " + reason, fmt.Sprint(sum.ByError[reason])})
	}
	if err := s.print(sum, rows); err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d replays failed; run the command again to retry them", sum.Failed)
	}
	return nil
}

// count adds the outcome of the replay of rid to the summary.
func (sum *replaySummary) count(rid string, err error) {
	switch code := lead.ErrorCode(err); {
	case err == nil:
		sum.Replayed++
	case code == lead.ENOTFOUND:
		sum.Gone++
	case code == lead.EINTERNAL || code == lead.EUNSETTLED:
		sum.Failed++
		fmt.Fprintf(progressOut, "\nreplay of %s failed: %v\n", rid, err)
	default:
		sum.StillRejected++
		var e *lead.Error
		if errors.As(err, &e) {
			sum.ByError[e.Reason]++
		}
	}
}
