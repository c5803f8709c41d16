package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// TestEveryWriteCountsTheVersion: a create writes version 1 and every update the next one.
func TestEveryWriteCountsTheVersion(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	id := uuid.NewString()
	w := &lead.Webhook{ID: id, OrganizationID: uuid.NewString(), PoolID: uuid.NewString(), Name: "n", TokenHash: []byte("h0"), CreatedAt: time.Now()}
	awstest.Must(t, s.CreateWebhook(ctx, w))
	got, err := s.Webhook(ctx, id)
	awstest.Must(t, err)
	if got.Version != 1 || w.Version != 1 {
		t.Errorf("created at version %d (returned %d); want 1", got.Version, w.Version)
	}
	rotated, err := s.RotateWebhook(ctx, id, []byte("h1"), time.Now(), time.Time{})
	awstest.Must(t, err)
	updated, err := s.SetAllowQueryToken(ctx, id, true)
	awstest.Must(t, err)
	if rotated.Version != 2 || updated.Version != 3 {
		t.Errorf("versions %d after a rotation and %d after an update; want 2 and 3", rotated.Version, updated.Version)
	}
}

// TestADeletedItemReadsAsNotFoundAndCannotBeCreatedAgain: a delete leaves a tombstone that
// every read treats as not found, that no listing shows, and that a create of the same key
// is refused by.
func TestADeletedItemReadsAsNotFoundAndCannotBeCreatedAgain(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	p := newPool(t, s)
	w := &lead.Webhook{ID: uuid.NewString(), OrganizationID: p.OrganizationID, PoolID: p.ID, Name: "n", TokenHash: []byte("h0"), CreatedAt: time.Now()}
	awstest.Must(t, s.CreateWebhook(ctx, w))
	awstest.Must(t, s.DeleteWebhook(ctx, w.ID))

	if got, err := s.Webhook(ctx, w.ID); err != nil || got != nil {
		t.Errorf("Webhook(deleted) = %+v, %v; want nil, nil", got, err)
	}
	listed, _, err := s.ListWebhooks(ctx, p.OrganizationID, 10, "")
	awstest.Must(t, err)
	if len(listed) != 0 {
		t.Errorf("ListWebhooks shows %d webhooks; want the deleted one left out", len(listed))
	}
	if err := s.CreateWebhook(ctx, w); !errors.Is(err, dynamo.ErrExists) {
		t.Errorf("CreateWebhook(deleted id) = %v; want ErrExists", err)
	}
	if err := s.DeleteWebhook(ctx, w.ID); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("DeleteWebhook(deleted) = %v; want lead.ErrNotFound", err)
	}
	if _, err := s.RotateWebhook(ctx, w.ID, []byte("h1"), time.Now(), time.Time{}); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("RotateWebhook(deleted) = %v; want lead.ErrNotFound", err)
	}
	if _, err := s.SetAllowQueryToken(ctx, w.ID, true); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("SetAllowQueryToken(deleted) = %v; want lead.ErrNotFound", err)
	}

	// Custom fields: gone from the listing and from the ingest read.
	f := &lead.CustomField{ID: uuid.NewString(), OrganizationID: p.OrganizationID, Name: "Note", Type: lead.CustomText}
	awstest.Must(t, s.PutCustomField(ctx, f))
	awstest.Must(t, s.DeleteCustomField(ctx, p.OrganizationID, f.ID))
	fields, err := s.ListCustomFields(ctx, p.OrganizationID)
	awstest.Must(t, err)
	_, byID, err := s.PoolWithFields(ctx, p.ID, p.OrganizationID, []string{f.ID})
	awstest.Must(t, err)
	if len(fields) != 0 || len(byID) != 0 {
		t.Errorf("deleted custom field listed (%d) or read (%d)", len(fields), len(byID))
	}
	if err := s.PutCustomField(ctx, f); !errors.Is(err, dynamo.ErrExists) {
		t.Errorf("PutCustomField(deleted id) = %v; want ErrExists", err)
	}
	if err := s.DeleteCustomField(ctx, p.OrganizationID, f.ID); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("DeleteCustomField(deleted) = %v; want lead.ErrNotFound", err)
	}

	// Lead states: gone from the listing and the pool.
	st := &lead.State{ID: uuid.NewString(), Name: "Won"}
	awstest.Must(t, s.AddLeadState(ctx, p.ID, st))
	awstest.Must(t, s.DeleteLeadState(ctx, p.ID, st.ID))
	states, err := s.ListLeadStates(ctx, p.ID)
	awstest.Must(t, err)
	for _, got := range states {
		if got.ID == st.ID {
			t.Errorf("deleted lead state listed")
		}
	}
	if err := s.DeleteLeadState(ctx, p.ID, st.ID); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("DeleteLeadState(deleted) = %v; want lead.ErrNotFound", err)
	}
	if err := s.AddLeadState(ctx, p.ID, st); !errors.Is(err, dynamo.ErrExists) {
		t.Errorf("AddLeadState(deleted id) = %v; want ErrExists", err)
	}
	if err := s.DeleteLeadState(ctx, p.ID, p.DefaultLeadStateID); !errors.Is(err, lead.ErrChanged) {
		t.Errorf("DeleteLeadState(default) = %v; want lead.ErrChanged", err)
	}
	if err := s.SetDefaultLeadState(ctx, p.ID, st.ID); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("SetDefaultLeadState(deleted) = %v; want lead.ErrNotFound", err)
	}

	// Rejected requests: gone from the listing and the read.
	id := keepOne(t, s, w.ID)
	awstest.Must(t, s.DiscardRejected(ctx, w.ID, id))
	if r, err := s.Rejected(ctx, w.ID, id, time.Now()); err != nil || r != nil {
		t.Errorf("Rejected(discarded) = %+v, %v; want nil, nil", r, err)
	}
	page, err := s.ListRejected(ctx, w.ID, 10, "", time.Now())
	awstest.Must(t, err)
	if len(page.Rejected) != 0 {
		t.Errorf("ListRejected shows %d; want the discarded one left out", len(page.Rejected))
	}
	if err := s.RecordRejectedError(ctx, w.ID, id, []byte(`{}`), "x"); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("RecordRejectedError(discarded) = %v; want lead.ErrNotFound", err)
	}
}

func keepOne(t *testing.T, s *dynamo.Store, webhookID string) string {
	t.Helper()
	id, err := lead.NewEntryID()
	awstest.Must(t, err)
	awstest.Must(t, s.KeepRejected(context.Background(), &lead.RejectedRequest{ID: id, WebhookID: webhookID, ReceivedAt: time.Now(),
		ContentType: "application/json", Body: []byte(`{"data":{}}`), ErrorBody: []byte(`{"error":"Validation failed"}`),
		ErrorReason: "Validation failed", ExpiresAt: time.Now().Add(time.Hour)}, 10))
	return id
}

// TestALateKeepAfterTheReplayIsRefused: a rejected request whose keep reached DynamoDB twice
// (the first attempt late) is replayed in between; the late keep lands on the tombstone the
// replay left and is refused, so the replayed request is not kept again.
func TestALateKeepAfterTheReplayIsRefused(t *testing.T) {
	s, env := faultStore(t)
	ctx := context.Background()
	p := newPool(t, s)
	webhookID := uuid.NewString()
	_, err := env.Faults.Add(faults.Rule{Op: "TransactWriteItems", Kind: faults.Late, Count: 1, Latency: 300 * time.Millisecond})
	awstest.Must(t, err)
	id := keepOne(t, s, webhookID)
	env.Faults.Reset()
	e := newEntry(p, map[string]any{})
	e.WebhookID = webhookID
	awstest.Must(t, s.PutReplayedEntry(ctx, e, lead.SchemaLock{}, nil, webhookID, id))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	landed, err := env.Faults.WaitLate(wctx)
	awstest.Must(t, err)
	// DynamoDB may answer the late keep 200 without applying it (its request token is the
	// first keep's), or refuse it: what counts is that the request stays replayed.
	if len(landed) != 1 {
		t.Errorf("late writes %+v; want the one late keep", landed)
	}
	if r, err := s.Rejected(ctx, webhookID, id, time.Now()); err != nil || r != nil {
		t.Errorf("the replayed request after the late keep = %+v, %v; want none", r, err)
	}
	if err := s.PutReplayedEntry(ctx, newEntry(p, map[string]any{}), lead.SchemaLock{}, nil, webhookID, id); !errors.Is(err, lead.ErrRejectedGone) {
		t.Errorf("a second replay = %v; want lead.ErrRejectedGone", err)
	}
}

// TestAWriteWhoseReadBackIsSlowIsStillSettled is the root of the flaky "500, but the table
// changed" of the admin fault matrix (rotate, UpdateItem lost always) on a busy machine:
// every answer of the rotation is lost, so only the item read back can tell that it was
// applied, and that read took longer than its SettleTimeout. One slow read must not turn an
// applied write into a failure: the store keeps fencing and reading back until the
// request's deadline plus SettleTimeout, and settles the rotation as applied.
func TestAWriteWhoseReadBackIsSlowIsStillSettled(t *testing.T) {
	s, env := faultStore(t)
	ctx := context.Background()
	id := uuid.NewString()
	awstest.Must(t, s.CreateWebhook(ctx, &lead.Webhook{ID: id, OrganizationID: uuid.NewString(), PoolID: uuid.NewString(),
		Name: "n", TokenHash: []byte("h0"), CreatedAt: time.Now()}))
	_, err := env.Faults.Add(faults.Rule{Op: "UpdateItem", Kind: faults.Lost, Probability: 1})
	awstest.Must(t, err)
	// Every read slower than SettleTimeout, the version read before the write included.
	_, err = env.Faults.Add(faults.Rule{Op: "GetItem", Kind: faults.Slow, Probability: 1, Latency: dynamo.SettleTimeout + 200*time.Millisecond})
	awstest.Must(t, err)
	rctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	w, err := s.RotateWebhook(rctx, id, []byte("h1"), time.Now(), time.Time{})
	env.Faults.Reset()
	stored, gerr := s.Webhook(ctx, id)
	awstest.Must(t, gerr)
	if err != nil {
		t.Fatalf("RotateWebhook = %v; want the applied rotation settled as a success (stored hash %q)", err, stored.TokenHash)
	}
	if string(w.TokenHash) != "h1" || string(stored.TokenHash) != "h1" {
		t.Errorf("returned hash %q, stored %q; want h1", w.TokenHash, stored.TokenHash)
	}
}

// TestALateCatalogWriteUndoesNoLaterChange: the catalog's writes (rlctl's) are versioned
// too. Each first write reaches DynamoDB twice, its first attempt late (the SDK's retry
// applies it at once), and the late attempt lands after a later change, which survives.
func TestALateCatalogWriteUndoesNoLaterChange(t *testing.T) {
	late := func(t *testing.T, env *awstest.Env, op string) {
		t.Helper()
		_, err := env.Faults.Add(faults.Rule{Op: op, Kind: faults.Late, Count: 1, Latency: 300 * time.Millisecond})
		awstest.Must(t, err)
	}
	land := func(t *testing.T, env *awstest.Env) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		landed, err := env.Faults.WaitLate(ctx)
		awstest.Must(t, err)
		if len(landed) != 1 {
			t.Fatalf("late writes %+v; want 1", landed)
		}
	}
	ctx := context.Background()
	t.Run("create a custom field, delete it", func(t *testing.T) {
		t.Parallel()
		s, env := faultStore(t)
		org := uuid.NewString()
		f := &lead.CustomField{ID: uuid.NewString(), OrganizationID: org, Name: "Note", Type: lead.CustomText}
		late(t, env, "PutItem")
		awstest.Must(t, s.PutCustomField(ctx, f))
		awstest.Must(t, s.DeleteCustomField(ctx, org, f.ID))
		land(t, env)
		fields, err := s.ListCustomFields(ctx, org)
		awstest.Must(t, err)
		if len(fields) != 0 {
			t.Errorf("the deleted custom field came back: %+v", fields)
		}
	})
	t.Run("set the default lead state, set it back", func(t *testing.T) {
		t.Parallel()
		s, env := faultStore(t)
		p := newPool(t, s)
		st := &lead.State{ID: uuid.NewString(), Name: "Won"}
		awstest.Must(t, s.AddLeadState(ctx, p.ID, st))
		late(t, env, "UpdateItem")
		awstest.Must(t, s.SetDefaultLeadState(ctx, p.ID, st.ID))
		awstest.Must(t, s.SetDefaultLeadState(ctx, p.ID, p.DefaultLeadStateID))
		land(t, env)
		got, err := s.Pool(ctx, p.ID)
		awstest.Must(t, err)
		if got.DefaultLeadStateID != p.DefaultLeadStateID {
			t.Errorf("default lead state %s; want the later change's %s", got.DefaultLeadStateID, p.DefaultLeadStateID)
		}
	})
	t.Run("add a lead state, delete it", func(t *testing.T) {
		t.Parallel()
		s, env := faultStore(t)
		p := newPool(t, s)
		st := &lead.State{ID: uuid.NewString(), Name: "Won"}
		late(t, env, "TransactWriteItems")
		awstest.Must(t, s.AddLeadState(ctx, p.ID, st))
		awstest.Must(t, s.DeleteLeadState(ctx, p.ID, st.ID))
		land(t, env)
		got, err := s.Pool(ctx, p.ID)
		awstest.Must(t, err)
		states, err := s.ListLeadStates(ctx, p.ID)
		awstest.Must(t, err)
		if got.HasLeadState(st.ID) || len(states) != 1 {
			t.Errorf("the deleted lead state came back: pool %v, states %+v", got.LeadStateIDs, states)
		}
	})
}
