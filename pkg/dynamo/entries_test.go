package dynamo_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

func TestEntryShardComesFromTheIDsRandomBits(t *testing.T) {
	tests := []struct {
		id   string
		want int
	}{
		{"01a22a37-7552-7050-90e9-e4f299072a00", 0},
		{"01a22a37-7552-7050-90e9-e4f299072a1f", 31},
		{"01a22a37-7552-7050-90e9-e4f299072a20", 0},
		{"01a22a37-7552-7050-90e9-e4f299072aff", 31},
		{"01a22a37-7552-7050-90e9-e4f299072a45", 5},
	}
	for _, tt := range tests {
		if got := dynamo.EntryShard(tt.id); got != tt.want {
			t.Errorf("EntryShard(%s) = %d; want %d", tt.id, got, tt.want)
		}
	}
	seen := map[int]int{}
	for range 2000 {
		id, err := lead.NewEntryID()
		awstest.Must(t, err)
		seen[dynamo.EntryShard(id)]++
	}
	for shard := range dynamo.EntryShards {
		// 2,000 ids over 32 shards: 62.5 each on average; a shard under 25 would mean the
		// bits are not random.
		if seen[shard] < 25 {
			t.Errorf("shard %d got %d of 2,000 new ids; want the ids spread over all %d shards (%v)", shard, seen[shard], dynamo.EntryShards, seen)
		}
	}
}

func TestPoolEntriesAreSpreadOverShardsAndReadBackInIDOrder(t *testing.T) {
	env := awstest.Start(t)
	s := dynamo.New(env.DB, env.App.TableName)
	ctx := context.Background()
	p := newPool(t, s)
	other := newPool(t, s)
	var ids []string
	for i := range 70 {
		e := newEntry(p, map[string]any{"n": lead.Number(fmt.Sprint(i))})
		awstest.Must(t, s.PutEntry(ctx, e, lead.SchemaLock{Locked: p.Schema}, nil))
		ids = append(ids, e.ID)
		awstest.Must(t, s.PutEntry(ctx, newEntry(other, map[string]any{}), lead.SchemaLock{Locked: other.Schema}, nil))
	}
	slices.Sort(ids)
	tests := []struct {
		name  string
		limit int
		want  []string
	}{
		{"all of them", 100, ids},
		{"the oldest ten", 10, ids[:10]},
		{"exactly all", 70, ids},
		{"none", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Entries(ctx, p.ID, tt.limit)
			awstest.Must(t, err)
			var gotIDs []string
			for _, e := range got {
				if e.PoolID != p.ID {
					t.Errorf("entry %s of pool %s; want only pool %s", e.ID, e.PoolID, p.ID)
				}
				gotIDs = append(gotIDs, e.ID)
			}
			if !slices.Equal(gotIDs, tt.want) {
				t.Errorf("Entries(limit %d) = %d ids %v; want %d in id order", tt.limit, len(gotIDs), gotIDs, len(tt.want))
			}
		})
	}
	// The entry is found from its pool and id alone, and its partition key is its shard's.
	e, err := s.Entry(ctx, p.ID, ids[3])
	awstest.Must(t, err)
	if e == nil || e.ID != ids[3] {
		t.Fatalf("Entry(%s) = %+v; want it", ids[3], e)
	}
	keys := map[string]bool{}
	for _, id := range ids {
		keys[fmt.Sprintf("TABLE#%s#%02d", p.ID, dynamo.EntryShard(id))] = true
	}
	if len(keys) < 16 {
		t.Errorf("70 entries landed on %d partition keys; want them spread (at least 16 of %d)", len(keys), dynamo.EntryShards)
	}
	// Nothing of the entries stays on the pool's own partition key, only the pool and its lead states.
	out, err := env.DB.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(env.App.TableName),
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :e)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "TABLE#" + p.ID}, ":e": &types.AttributeValueMemberS{Value: "ENTRY#"}},
	})
	awstest.Must(t, err)
	if len(out.Items) != 0 {
		t.Errorf("%d entries under TABLE#<pool>; want none there (they live under the shard keys)", len(out.Items))
	}
}
