package dynamo

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

func TestLockSchemaPlaceholdersHaveAFixedSize(t *testing.T) {
	s := New(nil, "t")
	schema := func(keys ...string) lead.Schema {
		m := lead.Schema{}
		for _, k := range keys {
			m[k] = lead.TypeString
		}
		return m
	}
	many := func(prefix string, n, size int) []string {
		out := make([]string, n)
		for i := range out {
			k := fmt.Sprintf("%s%d", prefix, i)
			out[i] = k + strings.Repeat("k", size-len(k))
		}
		return out
	}
	tests := []struct {
		name    string
		lock    lead.SchemaLock
		perKey  bool // the per-key form is expected
		refused bool
	}{
		{"10 keys with #k*200 onto a locked key", lead.SchemaLock{Locked: schema("seed"), New: schema(append(many("f", 9, 4), "#"+strings.Repeat("k", 200))...)}, true, false},
		{"100 keys of 256 bytes onto a locked key", lead.SchemaLock{Locked: schema("seed"), New: schema(many("#k", 100, 256)...)}, true, false},
		{"101 keys onto a locked key", lead.SchemaLock{Locked: schema("seed"), New: schema(many("f", 101, 4)...)}, false, false},
		{"a key equal to a placeholder", lead.SchemaLock{Locked: schema("seed"), New: schema("a", "#k0")}, false, false},
		{"a key whose path names a placeholder", lead.SchemaLock{Locked: schema("seed"), New: schema("a", "x.#s")}, false, false},
		{"a key like a placeholder of no key", lead.SchemaLock{Locked: schema("seed"), New: schema("a", "#k7", "#k0x", "#s#v")}, true, false},
		{"500 keys of 256 bytes onto an empty pool", lead.SchemaLock{New: schema(many("#k", 500, 256)...)}, false, false},
		{"1,000 keys of 256 bytes", lead.SchemaLock{Locked: schema(many("#", 500, 256)...), Version: 3, New: schema(many("#k", 500, 256)...)}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.lockSchema("p", tt.lock)
			if err != nil {
				t.Fatalf("lockSchema: %v", err)
			}
			exprs := []string{aws.ToString(u.UpdateExpression), aws.ToString(u.ConditionExpression)}
			if err := checkExpressions(exprs, u.ExpressionAttributeNames, u.ExpressionAttributeValues); err != nil {
				t.Errorf("the write is beyond DynamoDB's limits: %v", err)
			}
			for n := range u.ExpressionAttributeNames {
				if len(n) > len("#k")+3 {
					t.Errorf("placeholder %q grows with the keys", n)
				}
			}
			for v := range u.ExpressionAttributeValues {
				if len(v) > len(":room") {
					t.Errorf("placeholder %q grows with the keys", v)
				}
			}
			for n, k := range u.ExpressionAttributeNames {
				if aliasesAPlaceholder(k, u.ExpressionAttributeNames) {
					t.Errorf("placeholder %q holds %q, which names a placeholder", n, k)
				}
			}
			if perKey := strings.Contains(exprs[1], "attribute_not_exists(#s."); perKey != tt.perKey {
				t.Errorf("per-key form = %v; want %v (update %.80q)", perKey, tt.perKey, exprs[0])
			}
		})
	}
}

func TestCheckExpressionsHoldsDynamoDBsLimits(t *testing.T) {
	ok := map[string]string{"#s": "schema"}
	for _, tt := range []struct {
		name   string
		exprs  []string
		names  map[string]string
		values map[string]types.AttributeValue
		fits   bool
	}{
		{"4 KB expression", []string{strings.Repeat("a", 4096)}, ok, nil, true},
		{"4 KB + 1 expression", []string{strings.Repeat("a", 4097)}, ok, nil, false},
		{"255-byte placeholder", []string{"#s"}, map[string]string{"#" + strings.Repeat("k", 254): "x"}, nil, true},
		{"256-byte placeholder", []string{"#s"}, map[string]string{"#" + strings.Repeat("k", 255): "x"}, nil, false},
		{"256-byte value placeholder", []string{"#s"}, ok, map[string]types.AttributeValue{":" + strings.Repeat("v", 255): str("x")}, false},
		{"2 MB of values", []string{"#s"}, ok, map[string]types.AttributeValue{":m": str(strings.Repeat("x", 2<<20))}, false},
		{"300 operators", []string{strings.Repeat("a = b AND ", 150)}, ok, nil, true},
		{"301 operators", []string{strings.Repeat("a = b AND ", 150) + "c = d"}, ok, nil, false},
	} {
		if err := checkExpressions(tt.exprs, tt.names, tt.values); (err == nil) != tt.fits {
			t.Errorf("%s: checkExpressions = %v; want fits %v", tt.name, err, tt.fits)
		}
	}
}

func TestSchemaTooLargeForThePoolItemIsRefusedBeforeTheWrite(t *testing.T) {
	s := New(nil, "t")
	big := lead.Schema{}
	for i := range 1000 {
		k := fmt.Sprintf("%d", i)
		big[k+strings.Repeat("é", (256-len(k))/2)+strings.Repeat("x", (256-len(k))%2)] = lead.TypeStringList
	}
	if _, err := s.lockSchema("p", lead.SchemaLock{New: big}); err != nil {
		t.Fatalf("a schema at the request limits: %v; want it written", err)
	}
	s.maxItemBytes = 300 << 10
	_, err := s.lockSchema("p", lead.SchemaLock{New: big})
	if lead.ErrorCode(err) != lead.EINVALID {
		t.Fatalf("a schema beyond the pool item: %v; want a 400 before the write", err)
	}
}
