package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
)

// TestKeepRejectedUnderLateWritesSaysWhetherItKept keeps rejected requests while DynamoDB
// answers their TransactWriteItems with a 500 and applies them 2 s later: once the late
// writes have landed, a request is kept exactly when KeepRejected said so, an error that is
// not ErrRejectedUnsettled means "not kept" (the key holds a fence, which no read takes for
// a request), and the day's counter counts the kept ones. Before the keep was settled, every
// late keep answered "not kept" and was kept after all.
func TestKeepRejectedUnderLateWritesSaysWhetherItKept(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule faults.Rule
		n    int
	}{
		{"every write late", faults.Rule{Op: "TransactWriteItems", Kind: faults.Late, Probability: 1, Latency: 2 * time.Second}, 2},
		{"half the writes late", faults.Rule{Op: "TransactWriteItems", Kind: faults.Late, Probability: 0.5, Latency: 2 * time.Second}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, env := faultStore(t)
			webhookID := uuid.NewString()
			awstest.Must(t, func() error { _, err := env.Faults.Add(tc.rule); return err }())
			now := time.Now().UTC()
			said := map[string]error{}
			unsettled := 0
			for range tc.n {
				id, err := lead.NewEntryID()
				awstest.Must(t, err)
				// The shape of a request of the HTTP functions: its deadline, and the
				// function's settle time past it.
				ctx, calls := metrics.WithCalls(lead.WithSettleBy(context.Background(), time.Now().Add(4*time.Second)))
				ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				err = s.KeepRejected(ctx, &lead.RejectedRequest{ID: id, WebhookID: webhookID, ReceivedAt: now,
					ContentType: "application/json", Body: []byte(`{}`), ErrorBody: []byte(`{"error":"Validation failed"}`),
					ErrorReason: "Validation failed", ExpiresAt: now.Add(time.Hour)}, 1000)
				cancel()
				said[id] = err
				if errors.Is(err, lead.ErrRejectedUnsettled) {
					unsettled++
					if c := calls.Counts(); c.Unsettled != 1 {
						t.Errorf("unsettled keep counted %d unsettled writes; want 1", c.Unsettled)
					}
				}
			}
			late := env.Faults.Count("TransactWriteItems", faults.Late)
			env.Faults.Reset()
			waitLate(t, env)
			page, err := s.ListRejected(context.Background(), webhookID, 100, "", now)
			awstest.Must(t, err)
			listed := map[string]bool{}
			for _, r := range page.Rejected {
				listed[r.ID] = true
			}
			kept, notKept := 0, 0
			for id, err := range said {
				got, rerr := s.Rejected(context.Background(), webhookID, id, now)
				awstest.Must(t, rerr)
				stored := got != nil
				if stored != listed[id] {
					t.Errorf("request %s: read %v, listed %v", id, stored, listed[id])
				}
				switch {
				case errors.Is(err, lead.ErrRejectedUnsettled):
					if stored {
						kept++
					}
				case err == nil && !stored:
					t.Errorf("request %s: KeepRejected said kept; it is not stored", id)
				case err != nil && stored:
					t.Errorf("request %s: KeepRejected = %v (not kept); it is stored once the late writes landed", id, err)
				case err == nil:
					kept++
				default:
					notKept++
				}
			}
			if n := dayCount(t, env, webhookID, now); n != kept {
				t.Errorf("day counter = %d; want %d (the kept requests)", n, kept)
			}
			t.Logf("%d kept, %d not kept, %d unsettled; %d late writes", kept, notKept, unsettled, late)
			if late == 0 {
				t.Fatal("no late fault fired: the test shows nothing")
			}
		})
	}
}

// dayCount reads the webhook's counter of kept rejected requests of now's UTC day.
func dayCount(t *testing.T, env *awstest.Env, webhookID string, now time.Time) int {
	t.Helper()
	out, err := env.DB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.App.TableName), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "WEBHOOK#" + webhookID},
			"sk": &types.AttributeValueMemberS{Value: "REJECTCOUNT#" + now.UTC().Format(time.DateOnly)},
		},
	})
	awstest.Must(t, err)
	n, ok := out.Item["count"].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	var c int
	_, err = fmt.Sscan(n.Value, &c)
	awstest.Must(t, err)
	return c
}
