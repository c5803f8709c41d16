package dynamo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// TestAdminWritesWhoseAnswerIsLostAreSettled loses the answer of each management write once
// (the SDK's retry then meets the write's own commit) and on each of the SDK's 3 attempts
// (the store gets no answer at all): the write is applied, so the store reports success and
// the item holds exactly that write.
func TestAdminWritesWhoseAnswerIsLostAreSettled(t *testing.T) {
	h0, h1 := []byte("hash-0"), []byte("hash-1")
	created := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	seed := func(t *testing.T, s *dynamo.Store) string {
		t.Helper()
		id := uuid.NewString()
		awstest.Must(t, s.CreateWebhook(context.Background(), &lead.Webhook{ID: id, OrganizationID: uuid.NewString(),
			PoolID: uuid.NewString(), Name: "n", TokenHash: h0, CreatedAt: created}))
		return id
	}
	keep := func(t *testing.T, s *dynamo.Store, webhookID string) string {
		t.Helper()
		id, err := lead.NewEntryID()
		awstest.Must(t, err)
		awstest.Must(t, s.KeepRejected(context.Background(), &lead.RejectedRequest{ID: id, WebhookID: webhookID, ReceivedAt: time.Now(),
			ContentType: "application/json", Body: []byte(`{}`), ErrorBody: []byte(`{"error":"Validation failed"}`),
			ErrorReason: "Validation failed", ExpiresAt: time.Now().Add(time.Hour)}, 10))
		return id
	}
	webhook := func(t *testing.T, s *dynamo.Store, id string) *lead.Webhook {
		t.Helper()
		w, err := s.Webhook(context.Background(), id)
		awstest.Must(t, err)
		return w
	}
	tests := []struct {
		name string
		op   string
		// write seeds what the write needs, arms the fault, runs the write and returns its
		// error and a check of the stored result, run with the fault off.
		write func(t *testing.T, s *dynamo.Store, arm func()) (func(t *testing.T), error)
	}{
		{"create webhook", "PutItem", func(t *testing.T, s *dynamo.Store, arm func()) (func(*testing.T), error) {
			id := uuid.NewString()
			arm()
			err := s.CreateWebhook(context.Background(), &lead.Webhook{ID: id, OrganizationID: uuid.NewString(),
				PoolID: uuid.NewString(), Name: "n", TokenHash: h1, CreatedAt: created})
			return func(t *testing.T) {
				if w := webhook(t, s, id); w == nil || !bytes.Equal(w.TokenHash, h1) {
					t.Errorf("created webhook = %+v; want it stored with its hash", w)
				}
			}, err
		}},
		{"rotate webhook with a grace period", "UpdateItem", func(t *testing.T, s *dynamo.Store, arm func()) (func(*testing.T), error) {
			id := seed(t, s)
			arm()
			w, err := s.RotateWebhook(context.Background(), id, h1, created.Add(time.Minute), created.Add(time.Hour))
			return func(t *testing.T) {
				for _, got := range []*lead.Webhook{w, webhook(t, s, id)} {
					if !bytes.Equal(got.TokenHash, h1) || !bytes.Equal(got.PreviousTokenHash, h0) {
						t.Errorf("hash %q, previous %q; want %q and the replaced %q", got.TokenHash, got.PreviousTokenHash, h1, h0)
					}
				}
			}, err
		}},
		{"update webhook", "UpdateItem", func(t *testing.T, s *dynamo.Store, arm func()) (func(*testing.T), error) {
			id := seed(t, s)
			arm()
			w, err := s.SetAllowQueryToken(context.Background(), id, true)
			return func(t *testing.T) {
				if !w.AllowQueryToken || !webhook(t, s, id).AllowQueryToken {
					t.Errorf("allowQueryToken not returned and stored")
				}
			}, err
		}},
		{"delete webhook", "PutItem", func(t *testing.T, s *dynamo.Store, arm func()) (func(*testing.T), error) {
			id := seed(t, s)
			arm()
			err := s.DeleteWebhook(context.Background(), id)
			return func(t *testing.T) {
				if w := webhook(t, s, id); w != nil {
					t.Errorf("deleted webhook still stored")
				}
			}, err
		}},
		{"replace schema", "UpdateItem", func(t *testing.T, s *dynamo.Store, arm func()) (func(*testing.T), error) {
			p := newPool(t, s)
			arm()
			err := s.ReplaceSchema(context.Background(), p.ID, p.SchemaVersion, lead.Schema{"age": lead.TypeNumber})
			return func(t *testing.T) {
				got, err := s.Pool(context.Background(), p.ID)
				awstest.Must(t, err)
				if got.SchemaVersion != p.SchemaVersion+1 || fmt.Sprint(got.Schema) != "map[age:number]" {
					t.Errorf("schema %v at version %d; want map[age:number] at %d", got.Schema, got.SchemaVersion, p.SchemaVersion+1)
				}
			}, err
		}},
		{"record the error of a rejected request", "UpdateItem", func(t *testing.T, s *dynamo.Store, arm func()) (func(*testing.T), error) {
			wh := seed(t, s)
			id := keep(t, s, wh)
			arm()
			err := s.RecordRejectedError(context.Background(), wh, id, []byte(`{"error":"again"}`), "again")
			return func(t *testing.T) {
				r, err := s.Rejected(context.Background(), wh, id, time.Now())
				awstest.Must(t, err)
				if r == nil || string(r.ErrorBody) != `{"error":"again"}` {
					t.Errorf("recorded error = %+v; want the new one", r)
				}
			}, err
		}},
		{"discard a rejected request", "PutItem", func(t *testing.T, s *dynamo.Store, arm func()) (func(*testing.T), error) {
			wh := seed(t, s)
			id := keep(t, s, wh)
			arm()
			err := s.DiscardRejected(context.Background(), wh, id)
			return func(t *testing.T) {
				r, err := s.Rejected(context.Background(), wh, id, time.Now())
				awstest.Must(t, err)
				if r != nil {
					t.Errorf("discarded request still kept")
				}
			}, err
		}},
	}
	for _, tt := range tests {
		for _, lost := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s, %d answers lost", tt.name, lost), func(t *testing.T) {
				t.Parallel()
				s, env := faultStore(t)
				// The rule is armed after the seeding, so it fires on the write only.
				check, err := tt.write(t, s, func() {
					_, err := env.Faults.Add(faults.Rule{Op: tt.op, Kind: faults.Lost, Count: lost})
					awstest.Must(t, err)
				})
				if n := env.Faults.Count(tt.op, faults.Lost); n != lost {
					t.Fatalf("%d answers lost; want %d (the seeding used the faulted operation?)", n, lost)
				}
				env.Faults.Reset()
				if err != nil {
					t.Fatalf("write = %v; want success, it is applied", err)
				}
				check(t)
			})
		}
	}
}

// TestDeletingWhatIsNotThereIsStillNotFound: without a lost answer, a delete's failed
// condition is an unknown id, not a settled delete.
func TestDeletingWhatIsNotThereIsStillNotFound(t *testing.T) {
	s := newStore(t)
	if err := s.DeleteWebhook(context.Background(), uuid.NewString()); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("DeleteWebhook(unknown) = %v; want lead.ErrNotFound", err)
	}
	if err := s.DiscardRejected(context.Background(), uuid.NewString(), uuid.NewString()); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("DiscardRejected(unknown) = %v; want lead.ErrNotFound", err)
	}
}
