package lead

import (
	"context"
	"errors"
	"testing"
	"time"
)

// keptStore is a RejectedStore that records what KeepRejected was given and answers keepErr.
type keptStore struct {
	RejectedStore
	kept     []*RejectedRequest
	dailyMax int
	keepErr  error
}

func (k *keptStore) KeepRejected(_ context.Context, r *RejectedRequest, dailyMax int) error {
	k.dailyMax = dailyMax
	if k.keepErr != nil {
		return k.keepErr
	}
	k.kept = append(k.kept, r)
	return nil
}

func TestIngestKeepsRefusedRequests(t *testing.T) {
	mismatch := map[string]any{"email": Number("1")}
	tests := []struct {
		name       string
		payload    *payload
		dryRun     bool
		keepErr    error
		wantCode   Code
		wantKept   bool   // a rejectedId in the answer and a request kept
		wantWhy    string // why it was not kept, when it should have been
		wantStored bool   // KeepRejected was called with the request
	}{
		{"a schema conflict is kept", dataPayload(`{"data":{"email":1}}`, mismatch), false, nil, EINVALID, true, "", true},
		{"a body check failure is kept", &payload{raw: []byte(`{"email":1}`), decodeErr: Invalid("flat body")}, false, nil, EINVALID, true, "", true},
		{"a dry run keeps nothing", dataPayload(`{"data":{"email":1}}`, mismatch), true, nil, EINVALID, false, "", false},
		{"a body too large is not kept", &payload{bytesErr: Errorf(ETOOLARGE, "big")}, false, nil, ETOOLARGE, false, "", false},
		{"past the daily maximum: the 400 without rejectedId", dataPayload(`{"data":{"email":1}}`, mismatch), false, ErrRejectedQuotaFull, EINVALID, false, "daily maximum reached", false},
		{"a failed keep write: still the 400, never a 500", dataPayload(`{"data":{"email":1}}`, mismatch), false, errors.New("dynamodb down"), EINVALID, false, "write failed: dynamodb down", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, _ := ingestFixture(t)
			k := &keptStore{keepErr: tt.keepErr}
			svc.Rejected = k
			_, err := send(svc, request{WebhookID: testWebhook, Token: testToken, Payload: tt.payload,
				DryRun: tt.dryRun, ContentType: "application/json", IdempotencyKey: "k1", RequestID: "req-1"})
			if ErrorCode(err) != tt.wantCode {
				t.Fatalf("Ingest = %v; want code %s", err, tt.wantCode)
			}
			if got := RejectedID(err) != ""; got != tt.wantKept {
				t.Errorf("rejectedId %q; want one: %v", RejectedID(err), tt.wantKept)
			}
			var e *Error
			if errors.As(err, &e) && tt.wantWhy != "" && (e.Rejected == nil || e.Rejected.Kept || e.Rejected.Why != tt.wantWhy) {
				t.Errorf("fate %+v; want not kept because %q", e.Rejected, tt.wantWhy)
			}
			if (len(k.kept) == 1) != tt.wantStored {
				t.Fatalf("kept %d requests; want stored: %v", len(k.kept), tt.wantStored)
			}
			if !tt.wantStored {
				return
			}
			r := k.kept[0]
			if r.ID != RejectedID(err) || r.WebhookID != testWebhook || string(r.Body) != string(tt.payload.raw) || r.ContentType != "application/json" ||
				r.IdempotencyKey != "k1" || r.ErrorReason != "Validation failed" || k.dailyMax != RejectedDailyMax ||
				!r.ExpiresAt.Equal(r.ReceivedAt.Add(14*24*time.Hour)) ||
				string(r.ErrorBody) != `{"error":"Validation failed","rejectedId":"`+r.ID+`","requestId":"req-1"}` {
				t.Errorf("kept %+v; want the body as received, its content type, key, the error body it got and a 14-day expiry", r)
			}
		})
	}
}
