package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// TestCreatePoolTellsAConflictFromAnExistingPool: a transaction DynamoDB cancels for a
// conflict is the retriable 503 error, not "already exists"; only a failed condition is.
func TestCreatePoolTellsAConflictFromAnExistingPool(t *testing.T) {
	s, env := faultStore(t)
	pool := func() (*lead.Pool, *lead.State) {
		return &lead.Pool{ID: uuid.NewString(), OrganizationID: uuid.NewString(), Name: "Leads"}, &lead.State{ID: uuid.NewString(), Name: "New"}
	}
	id, err := env.Faults.Add(faults.Rule{Op: "TransactWriteItems", Kind: faults.Conflict, Probability: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p, st := pool()
	err = s.CreatePool(ctx, p, st)
	if errors.Is(err, dynamo.ErrExists) || lead.ErrorCode(err) != lead.EUNAVAILABLE {
		t.Errorf("CreatePool under transaction conflicts = %v; want the 503 unavailable error, not already exists", err)
	}
	if env.Faults.Count("TransactWriteItems", faults.Conflict) == 0 {
		t.Fatal("no conflict was injected")
	}
	env.Faults.Remove(id)
	if err := s.CreatePool(context.Background(), p, st); err != nil {
		t.Fatalf("CreatePool after the conflicts: %v", err)
	}
	if err := s.CreatePool(context.Background(), p, st); !errors.Is(err, dynamo.ErrExists) {
		t.Errorf("CreatePool of an existing pool = %v; want ErrExists", err)
	}
}
