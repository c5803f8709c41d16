package dynamo_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

func newStore(t *testing.T) *dynamo.Store {
	t.Helper()
	env := awstest.Start(t)
	return dynamo.New(env.DB, env.App.TableName)
}

func TestRotateWebhookCopiesTheReplacedHashOnlyWithGrace(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	id := uuid.NewString()
	h0, h1, h2 := []byte("hash-0"), []byte("hash-1"), []byte("hash-2")
	created := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	awstest.Must(t, s.CreateWebhook(ctx, &lead.Webhook{ID: id, OrganizationID: uuid.NewString(), PoolID: uuid.NewString(), Name: "n", TokenHash: h0, CreatedAt: created}))

	until := created.Add(time.Hour)
	w, err := s.RotateWebhook(ctx, id, h1, created.Add(time.Minute), until)
	awstest.Must(t, err)
	stored, err := s.Webhook(ctx, id)
	awstest.Must(t, err)
	for _, got := range []*lead.Webhook{w, stored} {
		if !bytes.Equal(got.TokenHash, h1) || !bytes.Equal(got.PreviousTokenHash, h0) || !got.PreviousTokenExpiresAt.Equal(until) {
			t.Errorf("after grace rotation: hash %q, previous %q until %v; want %q, %q until %v",
				got.TokenHash, got.PreviousTokenHash, got.PreviousTokenExpiresAt, h1, h0, until)
		}
	}
	if !stored.RotatedAt.Equal(created.Add(time.Minute)) || !stored.CreatedAt.Equal(created) {
		t.Errorf("rotatedAt %v createdAt %v; want %v, %v", stored.RotatedAt, stored.CreatedAt, created.Add(time.Minute), created)
	}

	_, err = s.RotateWebhook(ctx, id, h2, created.Add(2*time.Minute), time.Time{})
	awstest.Must(t, err)
	stored, err = s.Webhook(ctx, id)
	awstest.Must(t, err)
	if !bytes.Equal(stored.TokenHash, h2) || stored.PreviousTokenHash != nil || !stored.PreviousTokenExpiresAt.IsZero() {
		t.Errorf("after rotation without grace: hash %q, previous %q until %v; want %q and no previous",
			stored.TokenHash, stored.PreviousTokenHash, stored.PreviousTokenExpiresAt, h2)
	}

	if _, err := s.RotateWebhook(ctx, uuid.NewString(), h1, created, time.Time{}); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("RotateWebhook(unknown) = %v; want lead.ErrNotFound", err)
	}
	if w, _ := s.Webhook(ctx, uuid.NewString()); w != nil {
		t.Errorf("a failed rotation of an unknown id created %+v", w)
	}
}

func TestDeleteWebhook(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	id := uuid.NewString()
	awstest.Must(t, s.CreateWebhook(ctx, &lead.Webhook{ID: id, OrganizationID: uuid.NewString(), PoolID: uuid.NewString(), Name: "n", TokenHash: []byte("h"), CreatedAt: time.Now()}))
	awstest.Must(t, s.DeleteWebhook(ctx, id))
	if w, err := s.Webhook(ctx, id); err != nil || w != nil {
		t.Errorf("Webhook after delete = %v, %v; want nil, nil", w, err)
	}
	if err := s.DeleteWebhook(ctx, id); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("second DeleteWebhook = %v; want lead.ErrNotFound", err)
	}
}

func TestListWebhooksPagesThroughOneOrganization(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	org, other := uuid.NewString(), uuid.NewString()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i := range 7 {
		id := uuid.NewString()
		want = append(want, id)
		awstest.Must(t, s.CreateWebhook(ctx, &lead.Webhook{ID: id, OrganizationID: org, PoolID: uuid.NewString(), Name: "n", TokenHash: []byte("h"), CreatedAt: base.Add(time.Duration(i) * time.Minute)}))
	}
	awstest.Must(t, s.CreateWebhook(ctx, &lead.Webhook{ID: uuid.NewString(), OrganizationID: other, PoolID: uuid.NewString(), Name: "x", TokenHash: []byte("h"), CreatedAt: base}))

	var got []string
	cursor, pages := "", 0
	var firstCursor string
	for {
		ws, next, err := s.ListWebhooks(ctx, org, 3, cursor)
		awstest.Must(t, err)
		pages++
		for _, w := range ws {
			got = append(got, w.ID)
		}
		if pages == 1 {
			firstCursor = next
		}
		if next == "" || pages > 10 {
			break
		}
		cursor = next
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("listed %v; want %v in creation order", got, want)
	}
	if pages < 3 {
		t.Errorf("%d pages of 3 for 7 webhooks; want at least 3", pages)
	}

	raw, _ := base64.RawURLEncoding.DecodeString(firstCursor)
	for _, tt := range []struct{ name, cursor string }{
		{"not base64", "!!!"},
		{"not JSON", base64.RawURLEncoding.EncodeToString([]byte("nope"))},
		{"another organization", firstCursor},
		{"missing attribute", base64.RawURLEncoding.EncodeToString([]byte(`{"pk":"WEBHOOK#x"}`))},
		{"trailing data", base64.RawURLEncoding.EncodeToString(append(raw, []byte("{}")...))},
		{"too long", strings.Repeat("A", 2000)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			orgID := org
			if tt.name == "another organization" {
				orgID = other
			}
			if _, _, err := s.ListWebhooks(ctx, orgID, 3, tt.cursor); !errors.Is(err, lead.ErrInvalidCursor) {
				t.Errorf("ListWebhooks(cursor %q) = %v; want lead.ErrInvalidCursor", tt.cursor, err)
			}
		})
	}
}

func TestLeadStatesAndCustomFields(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	org, pool, first, second := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	awstest.Must(t, s.CreatePool(ctx, &lead.Pool{ID: pool, OrganizationID: org, Name: "P"}, &lead.State{ID: first, Name: "New"}))
	awstest.Must(t, s.AddLeadState(ctx, pool, &lead.State{ID: second, Name: "Won"}))
	states, err := s.ListLeadStates(ctx, pool)
	awstest.Must(t, err)
	if len(states) != 2 {
		t.Fatalf("ListLeadStates = %v; want 2", states)
	}
	p, err := s.Pool(ctx, pool)
	awstest.Must(t, err)
	if !p.HasLeadState(second) || p.DefaultLeadStateID != first {
		t.Errorf("pool = %+v; want both states, default %s", p, first)
	}
	if err := s.SetDefaultLeadState(ctx, pool, uuid.NewString()); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("SetDefaultLeadState(unknown) = %v; want lead.ErrNotFound", err)
	}
	awstest.Must(t, s.SetDefaultLeadState(ctx, pool, second))
	awstest.Must(t, s.DeleteLeadState(ctx, pool, first))
	p, err = s.Pool(ctx, pool)
	awstest.Must(t, err)
	if p.DefaultLeadStateID != second || p.HasLeadState(first) || len(p.LeadStateIDs) != 1 {
		t.Errorf("pool = %+v; want only %s, the default", p, second)
	}
	if p, err := s.Pool(ctx, uuid.NewString()); p != nil || err != nil {
		t.Errorf("Pool(missing) = %v, %v; want nil, nil", p, err)
	}

	fid, textID := uuid.NewString(), uuid.NewString()
	awstest.Must(t, s.PutCustomField(ctx, &lead.CustomField{ID: fid, OrganizationID: org, Name: "Tags", Type: lead.CustomMultiselect, Options: []string{"a", "b"}}))
	awstest.Must(t, s.PutCustomField(ctx, &lead.CustomField{ID: textID, OrganizationID: org, Name: "Note", Type: lead.CustomText}))
	fs, err := s.ListCustomFields(ctx, org)
	awstest.Must(t, err)
	if len(fs) != 2 || fs[1].ID != fid || fs[1].Type != lead.CustomMultiselect || len(fs[1].Options) != 2 || fs[0].ID != textID {
		t.Errorf("ListCustomFields = %+v; want the text and the multiselect field, by name", fs)
	}
	awstest.Must(t, s.DeleteCustomField(ctx, org, fid))
	if err := s.DeleteCustomField(ctx, org, fid); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("DeleteCustomField(again) = %v; want lead.ErrNotFound", err)
	}

}

func TestLeadStateRefusals(t *testing.T) {
	ctx := context.Background()
	// Each case gets its own table: a cancelled transaction leaves minidyn v0.8.2 unable to
	// evaluate expressions on items with empty maps (see the store's notes).
	tests := []struct {
		name string
		do   func(s *dynamo.Store, pool, def, other string) error
		want error
	}{
		{"delete the default", func(s *dynamo.Store, pool, def, _ string) error { return s.DeleteLeadState(ctx, pool, def) }, lead.ErrChanged},
		{"delete an unknown state", func(s *dynamo.Store, pool, _, _ string) error { return s.DeleteLeadState(ctx, pool, uuid.NewString()) }, lead.ErrNotFound},
		{"add to a missing pool", func(s *dynamo.Store, _, _, _ string) error {
			return s.AddLeadState(ctx, uuid.NewString(), &lead.State{ID: uuid.NewString(), Name: "x"})
		}, lead.ErrNotFound},
		{"add an existing state", func(s *dynamo.Store, pool, _, other string) error {
			return s.AddLeadState(ctx, pool, &lead.State{ID: other, Name: "again"})
		}, dynamo.ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			pool, def, other := uuid.NewString(), uuid.NewString(), uuid.NewString()
			awstest.Must(t, s.CreatePool(ctx, &lead.Pool{ID: pool, OrganizationID: uuid.NewString(), Name: "P"}, &lead.State{ID: def, Name: "New"}))
			awstest.Must(t, s.AddLeadState(ctx, pool, &lead.State{ID: other, Name: "Won"}))
			if err := tt.do(s, pool, def, other); !errors.Is(err, tt.want) {
				t.Errorf("got %v; want %v", err, tt.want)
			}
			if p, _ := s.Pool(ctx, pool); p == nil || p.DefaultLeadStateID != def || len(p.LeadStateIDs) != 2 {
				t.Errorf("a refused write changed the pool: %+v", p)
			}
		})
	}
}
