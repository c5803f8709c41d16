package dynamo

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// EntryShards is how many partition keys a pool's entries are spread over. DynamoDB caps
// the writes to one partition key value at 1,000 WCU/s; a 1 KB lead is an entry item of a
// little over 1 KB, 2 WCU, so one key takes 500 such leads/s and 10,000 leads/s need 20
// keys. 32 (a power of two, so the random bits split evenly) take 16,000 leads/s of 1 KB,
// and leave room for the unevenness of random placement.
const EntryShards = 32

// EntryShard is the shard of an entry: its id's last random byte (a UUIDv7 ends in 62 random
// bits) modulo EntryShards. An id that does not end in hex digits is hashed instead.
func EntryShard(entryID string) int {
	if len(entryID) >= 2 {
		if b, err := strconv.ParseUint(entryID[len(entryID)-2:], 16, 8); err == nil {
			return int(b) % EntryShards
		}
	}
	h := fnv.New32a()
	h.Write([]byte(entryID))
	return int(h.Sum32() % EntryShards)
}

// entryPK is the partition key of a pool's shard: TABLE#<poolId>#<shard, two digits>.
func entryPK(poolID string, shard int) string {
	return fmt.Sprintf("%s%s#%02d", poolPrefix, poolID, shard)
}

// entryKey is the key of an entry, derived from its pool and id alone.
func entryKey(poolID, entryID string) map[string]types.AttributeValue {
	return key(entryPK(poolID, EntryShard(entryID)), EntryPrefix+entryID)
}

// Entry reads one entry of a pool (strongly consistent), or nil if there is none (a fence at
// its key is none).
func (s *Store) Entry(ctx context.Context, poolID, entryID string) (*lead.Entry, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            entryKey(poolID, entryID),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get entry %s of pool %s: %w", entryID, poolID, err)
	}
	if len(out.Item) == 0 || IsFence(out.Item) {
		return nil, nil
	}
	return EntryFromItem(out.Item)
}

// Entries returns the oldest limit entries of a pool in id order (UUIDv7: creation order):
// one Query per shard, each for at most limit entries, merged. Fences are not entries.
func (s *Store) Entries(ctx context.Context, poolID string, limit int) ([]*lead.Entry, error) {
	if limit <= 0 {
		return nil, nil
	}
	var all []*lead.Entry
	for shard := range EntryShards {
		in := &dynamodb.QueryInput{
			TableName:              &s.table,
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": str(entryPK(poolID, shard)),
				":p":  str(EntryPrefix),
			},
			ConsistentRead: aws.Bool(true),
			Limit:          aws.Int32(int32(min(limit, 1000))),
		}
		for n := 0; n < limit; {
			out, err := s.db.Query(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("query entries of pool %s, shard %d: %w", poolID, shard, err)
			}
			for _, item := range out.Items {
				if IsFence(item) {
					continue
				}
				e, err := EntryFromItem(item)
				if err != nil {
					return nil, fmt.Errorf("pool %s, shard %d: %w", poolID, shard, err)
				}
				all = append(all, e)
				n++
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	slices.SortFunc(all, func(a, b *lead.Entry) int { return strings.Compare(a.ID, b.ID) })
	if len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}
