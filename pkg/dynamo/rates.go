package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
)

// Attributes and keys of a webhook's rate limit and its per-second counters.
//
// The counters of a webhook are items of their own in the webhook's partition, beside
// the webhook, one per block of lead.RateBlockSeconds seconds (attribute c0 … c9 counts
// each second of the block): sort key rateSKPrefix and the block number counted down from
// rateBlockBase, zero-padded, so that the newest block sorts first right after the
// webhook's own sort key. The ingest read is then one strongly consistent Query from the
// webhook's sort key to the block of the oldest second it wants: the webhook and two or
// three small counters, never the old ones nor anything else of the partition. A counter
// is only ever ADDed to: it never touches the webhook item, its version or its tombstone,
// and a counter written late after a delete leaves a small item that expires, while the
// webhook still reads as not found.
const (
	attrRateLimit = "rateLimit"
	attrRateBurst = "rateBurst"
	attrRateBlock = "block"
	rateSKPrefix  = webhookSK + "#RATE#"
	rateType      = "rate"
	// rateBlockBase is larger than any block number this code will see.
	rateBlockBase = 9_999_999_999
	// RateCounterTTL is how long a counter item lives (it matters for seconds only).
	RateCounterTTL = time.Hour
)

// rateSK is the sort key of the counter of a block.
func rateSK(block int64) string {
	return fmt.Sprintf("%s%010d", rateSKPrefix, rateBlockBase-block)
}

// rateBlock is the block of a counter's sort key.
func rateBlock(sk string) (int64, bool) {
	digits, ok := strings.CutPrefix(sk, rateSKPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return rateBlockBase - n, true
}

// rateAttr is the attribute of a second in its block's counter.
func rateAttr(second int64) string { return "c" + strconv.FormatInt(second%lead.RateBlockSeconds, 10) }

// WebhookCounted reads a webhook, like Webhook, together with its per-second counters of
// the seconds from since on, in one strongly consistent Query of its partition (see
// rateSK). No webhook (or its tombstone) is nil, whatever counters remain.
func (s *Store) WebhookCounted(ctx context.Context, id string, since int64) (*lead.Webhook, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk BETWEEN :from AND :to"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(webhookPrefix + id), ":from": str(webhookSK), ":to": str(rateSK(since / lead.RateBlockSeconds))},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get webhook %s: %w", id, err)
	}
	var item map[string]types.AttributeValue
	var counted []lead.RateCount
	for _, it := range out.Items {
		r := itemReader{item: it}
		sk := r.s(attrSK)
		if sk == webhookSK {
			item = it
			continue
		}
		block, ok := rateBlock(sk)
		if !ok {
			return nil, fmt.Errorf("read webhook %s: counter %q: unreadable", id, sk)
		}
		for d := int64(0); d < lead.RateBlockSeconds; d++ {
			second := block*lead.RateBlockSeconds + d
			if n := r.optInt(rateAttr(second)); n != 0 && second >= since {
				counted = append(counted, lead.RateCount{Second: second, Count: n})
			}
		}
		if r.err != nil {
			return nil, fmt.Errorf("read webhook %s: counter %q: %w", id, sk, r.err)
		}
	}
	// A Query answers at most 1 MB: the webhook (at most 400 KB) and a dozen small
	// counters always fit, so there is no next page to read.
	w, err := s.webhookOf(id, item)
	if w != nil {
		w.Counted = counted
	}
	return w, err
}

// AddRateCounts adds the counts to the webhook's counters: one UpdateItem ADD per block,
// oldest first, each one attempt (no retry: the caller keeps what was not written and
// tries again later), on the caller's context, each counted in the request's metrics
// (RateFlush). A write that may have landed (no answer, a server fault) is not returned as
// unwritten. It never reads or writes the webhook item.
func (s *Store) AddRateCounts(ctx context.Context, webhookID string, counts []lead.RateCount) ([]lead.RateCount, error) {
	calls := metrics.CallsFrom(ctx)
	db := s.db
	if r, ok := db.(retrying); ok {
		db = r.db
	}
	for i := 0; i < len(counts); {
		block := counts[i].Second / lead.RateBlockSeconds
		j := i
		names := map[string]string{"#t": TypeAttribute, "#b": attrRateBlock, "#e": TTLAttribute}
		values := map[string]types.AttributeValue{":t": str(rateType), ":b": number(block),
			":e": epoch(time.Unix((block+1)*lead.RateBlockSeconds, 0).Add(RateCounterTTL))}
		var adds []string
		for ; j < len(counts) && counts[j].Second/lead.RateBlockSeconds == block; j++ {
			a := rateAttr(counts[j].Second)
			names["#"+a], values[":"+a] = a, number(counts[j].Count)
			adds = append(adds, "#"+a+" :"+a)
		}
		calls.RateFlush()
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &s.table,
			Key:                       key(webhookPrefix+webhookID, rateSK(block)),
			UpdateExpression:          aws.String("ADD " + strings.Join(adds, ", ") + " SET #t = :t, #b = :b, #e = :e"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}, oneAttempt)
		if err != nil {
			err = fmt.Errorf("add to the rate counter of webhook %s: %w", webhookID, err)
			if ambiguous(err) {
				// The write may have landed: sent again, it would count twice and refuse
				// requests the limit allows. It is taken as written (open, not closed).
				return counts[j:], err
			}
			return counts[i:], err
		}
		i = j
	}
	return nil, nil
}

var _ lead.RateStore = (*Store)(nil)

// numberOrNull is n as a number attribute, NULL for 0.
func numberOrNull(n int) types.AttributeValue {
	if n == 0 {
		return &types.AttributeValueMemberNULL{Value: true}
	}
	return number(int64(n))
}

// holdsRate reports whether a webhook item read back holds the rate change.
func holdsRate(item map[string]types.AttributeValue, ch *lead.RateChange) bool {
	r := itemReader{item: item}
	return int(r.optInt(attrRateLimit)) == ch.Limit && int(r.optInt(attrRateBurst)) == ch.Burst && r.err == nil
}
