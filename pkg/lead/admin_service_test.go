package lead

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func adminFixture(t *testing.T) (*WebhookAdmin, *memStore) {
	t.Helper()
	h, err := NewHasher([]byte("test key"))
	if err != nil {
		t.Fatal(err)
	}
	m := newMemStore()
	m.pools[testPool] = &Pool{ID: testPool, OrganizationID: testOrg, Name: "Inbound", DefaultLeadStateID: testState, LeadStateIDs: []string{testState}}
	svc := NewWebhookAdmin(m, h)
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	svc.Now = func() time.Time { now = now.Add(time.Second); return now }
	return svc, m
}

func TestWebhookAdminCreate(t *testing.T) {
	tests := []struct {
		name     string
		in       CreateWebhookInput
		wantPath string // "" for success
	}{
		{"a webhook on the organization's pool", CreateWebhookInput{OrganizationID: testOrg, PoolID: strings.ToUpper(testPool), Name: " Zapier "}, ""},
		{"organization not a UUID", CreateWebhookInput{OrganizationID: "org", PoolID: testPool, Name: "n"}, "organizationId"},
		{"pool missing", CreateWebhookInput{OrganizationID: testOrg, Name: "n"}, "tableId"},
		{"blank name", CreateWebhookInput{OrganizationID: testOrg, PoolID: testPool, Name: "  "}, "name"},
		{"pool of another organization", CreateWebhookInput{OrganizationID: "5d0e7f7c-3b0a-4f52-9a51-3e8a0e6b7c11", PoolID: testPool, Name: "n"}, "tableId"},
		{"pool that does not exist", CreateWebhookInput{OrganizationID: testOrg, PoolID: "5d0e7f7c-3b0a-4f52-9a51-3e8a0e6b7c11", Name: "n"}, "tableId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, m := adminFixture(t)
			c, err := svc.Create(context.Background(), tt.in)
			if tt.wantPath != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != EINVALID || len(e.Details) == 0 || e.Details[0].Path != tt.wantPath {
					t.Fatalf("Create(%+v) = %v; want a 400 naming %s", tt.in, err, tt.wantPath)
				}
				if len(m.webhooks) != 0 {
					t.Errorf("%d webhooks stored after a rejected create", len(m.webhooks))
				}
				return
			}
			if err != nil {
				t.Fatalf("Create(%+v) = %v", tt.in, err)
			}
			w := m.webhooks[c.ID]
			if w == nil || w.PoolID != testPool || w.Name != "Zapier" || !IsUUID(c.ID) || !WellFormedToken(c.Token) {
				t.Fatalf("stored %+v, answered %+v; want the webhook on pool %s named Zapier with a token", w, c, testPool)
			}
			if !svc.Hasher.Verify(w, c.Token, svc.Now()) || strings.Contains(string(w.TokenHash), c.Token) {
				t.Errorf("the stored hash does not verify the returned token, or holds it")
			}
		})
	}
}

func TestWebhookAdminRotate(t *testing.T) {
	tests := []struct {
		name      string
		grace     time.Duration
		oldValid  bool
		wantGrace bool
	}{
		{"without grace the old token fails at once", 0, false, false},
		{"with grace the old token stays valid", time.Hour, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, m := adminFixture(t)
			c, err := svc.Create(context.Background(), CreateWebhookInput{OrganizationID: testOrg, PoolID: testPool, Name: "n"})
			if err != nil {
				t.Fatal(err)
			}
			r, err := svc.Rotate(context.Background(), RotateWebhookInput{WebhookID: c.ID, GracePeriod: tt.grace})
			if err != nil {
				t.Fatal(err)
			}
			w := m.webhooks[c.ID]
			now := r.RotatedAt.Add(time.Second)
			if !svc.Hasher.Verify(w, r.Token, now) || r.Token == c.Token {
				t.Errorf("the new token does not verify, or equals the old one")
			}
			if got := svc.Hasher.Verify(w, c.Token, now); got != tt.oldValid {
				t.Errorf("old token valid after rotation = %v; want %v", got, tt.oldValid)
			}
			if got := !r.PreviousTokenExpiresAt.IsZero(); got != tt.wantGrace || (tt.wantGrace && !r.PreviousTokenExpiresAt.Equal(r.RotatedAt.Add(tt.grace))) {
				t.Errorf("PreviousTokenExpiresAt = %v; want grace %v after %v", r.PreviousTokenExpiresAt, tt.grace, r.RotatedAt)
			}
		})
	}
}

func TestWebhookAdminRejects(t *testing.T) {
	unknown := "5d0e7f7c-3b0a-4f52-9a51-3e8a0e6b7c11"
	tests := []struct {
		name     string
		call     func(*WebhookAdmin) error
		wantCode Code
	}{
		{"rotate an unknown webhook", func(s *WebhookAdmin) error {
			_, err := s.Rotate(context.Background(), RotateWebhookInput{WebhookID: unknown})
			return err
		}, ENOTFOUND},
		{"rotate with a negative grace", func(s *WebhookAdmin) error {
			_, err := s.Rotate(context.Background(), RotateWebhookInput{WebhookID: unknown, GracePeriod: -time.Second})
			return err
		}, EINVALID},
		{"rotate with more than seven days of grace", func(s *WebhookAdmin) error {
			_, err := s.Rotate(context.Background(), RotateWebhookInput{WebhookID: unknown, GracePeriod: MaxGracePeriod + time.Second})
			return err
		}, EINVALID},
		{"delete an unknown webhook", func(s *WebhookAdmin) error { return s.Delete(context.Background(), unknown) }, ENOTFOUND},
		{"delete with an id that is not a UUID", func(s *WebhookAdmin) error { return s.Delete(context.Background(), "x") }, EINVALID},
		{"list without organization", func(s *WebhookAdmin) error {
			_, err := s.List(context.Background(), ListWebhooksInput{})
			return err
		}, EINVALID},
		{"list past the page limit", func(s *WebhookAdmin) error {
			_, err := s.List(context.Background(), ListWebhooksInput{OrganizationID: testOrg, Limit: MaxListLimit + 1})
			return err
		}, EINVALID},
		{"list with a foreign cursor", func(s *WebhookAdmin) error {
			_, err := s.List(context.Background(), ListWebhooksInput{OrganizationID: testOrg, Cursor: "forged"})
			return err
		}, EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, _ := adminFixture(t)
			if err := tt.call(svc); ErrorCode(err) != tt.wantCode {
				t.Errorf("error = %v (code %s); want code %s", err, ErrorCode(err), tt.wantCode)
			}
		})
	}
}

func TestWebhookAdminListPagesWithoutSecretsAndDeleteRemoves(t *testing.T) {
	svc, m := adminFixture(t)
	var ids []string
	for range 3 {
		c, err := svc.Create(context.Background(), CreateWebhookInput{OrganizationID: testOrg, PoolID: testPool, Name: "n"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	p1, err := svc.List(context.Background(), ListWebhooksInput{OrganizationID: testOrg, Limit: 2})
	if err != nil || len(p1.Webhooks) != 2 || p1.NextCursor == "" {
		t.Fatalf("List page 1 = %+v, %v; want 2 webhooks and a cursor", p1, err)
	}
	p2, err := svc.List(context.Background(), ListWebhooksInput{OrganizationID: testOrg, Limit: 2, Cursor: p1.NextCursor})
	if err != nil || len(p2.Webhooks) != 1 || p2.NextCursor != "" {
		t.Fatalf("List page 2 = %+v, %v; want 1 webhook and no cursor", p2, err)
	}
	got := []string{p1.Webhooks[0].ID, p1.Webhooks[1].ID, p2.Webhooks[0].ID}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("listed %v; want oldest first %v", got, ids)
	}
	if err := svc.Delete(context.Background(), strings.ToUpper(ids[0])); err != nil || m.webhooks[ids[0]] != nil {
		t.Errorf("Delete = %v; want the webhook gone", err)
	}
}
