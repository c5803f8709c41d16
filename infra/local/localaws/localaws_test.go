package localaws_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
)

const table = "ingress-test"

type written struct {
	table string
	item  map[string]types.AttributeValue
}

// env starts a Server behind httptest, creates the table and records observed writes.
type env struct {
	ddb *dynamodb.Client
	sm  *secretsmanager.Client
	url string

	mu     sync.Mutex
	writes []written
}

func newEnv(t *testing.T, secrets map[string]string) *env {
	t.Helper()
	srv := localaws.New(localaws.Options{Secrets: secrets})
	e := &env{}
	srv.OnWrite(func(tbl string, item map[string]types.AttributeValue) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.writes = append(e.writes, written{tbl, item})
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	cfg := localaws.Config(hs.URL)
	cfg.RetryMaxAttempts = 1
	e.url = hs.URL
	e.ddb = dynamodb.NewFromConfig(cfg)
	e.sm = secretsmanager.NewFromConfig(cfg)
	if err := localaws.CreateTable(context.Background(), e.ddb, table); err != nil {
		t.Fatalf("CreateTable(%q) = %v; want nil", table, err)
	}
	return e
}

func (e *env) observed() []written {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]written(nil), e.writes...)
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}
}

func TestCreateTableDeclaresKeysAndIndex(t *testing.T) {
	e := newEnv(t, nil)
	out, err := e.ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTable = %v; want nil", err)
	}
	td := out.Table
	if got := len(td.KeySchema); got != 2 {
		t.Fatalf("KeySchema has %d elements; want 2", got)
	}
	if len(td.GlobalSecondaryIndexes) != 1 || aws.ToString(td.GlobalSecondaryIndexes[0].IndexName) != "gsi1" {
		t.Errorf("GlobalSecondaryIndexes = %+v; want one index gsi1", td.GlobalSecondaryIndexes)
	}
	if err := localaws.CreateTable(context.Background(), e.ddb, table); err == nil {
		t.Errorf("CreateTable on an existing table = nil; want an error")
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	item := map[string]types.AttributeValue{
		"pk":     s("TABLE#1"),
		"sk":     s("ENTRY#1"),
		"gsi1pk": s("ORG#1"),
		"gsi1sk": s("WEBHOOK#1"),
		"n":      &types.AttributeValueMemberN{Value: "12345678901234567890.123456789"},
		"b":      &types.AttributeValueMemberB{Value: []byte{0, 1, 0xff}},
		"ok":     &types.AttributeValueMemberBOOL{Value: true},
		"nil":    &types.AttributeValueMemberNULL{Value: true},
		"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("x"), &types.AttributeValueMemberN{Value: "1"}}},
		}},
		"ss": &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
	}
	if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("PutItem = %v; want nil", err)
	}
	out, err := e.ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: key("TABLE#1", "ENTRY#1"), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem = %v; want nil", err)
	}
	n, ok := out.Item["n"].(*types.AttributeValueMemberN)
	if !ok || n.Value != "12345678901234567890.123456789" {
		t.Errorf("GetItem n = %#v; want N 12345678901234567890.123456789", out.Item["n"])
	}
	if b, ok := out.Item["b"].(*types.AttributeValueMemberB); !ok || string(b.Value) != "\x00\x01\xff" {
		t.Errorf("GetItem b = %#v; want B 00 01 ff", out.Item["b"])
	}

	q, err := e.ddb.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String("gsi1"),
		KeyConditionExpression:    aws.String("gsi1pk = :o"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": s("ORG#1")},
	})
	if err != nil {
		t.Fatalf("Query gsi1 = %v; want nil", err)
	}
	if q.Count != 1 {
		t.Errorf("Query gsi1 count = %d; want 1", q.Count)
	}

	obs := e.observed()
	if len(obs) != 1 || obs[0].table != table {
		t.Fatalf("observed %d writes; want 1 on %s", len(obs), table)
	}
	if !reflect.DeepEqual(obs[0].item, item) {
		t.Errorf("observed item = %#v; want %#v", obs[0].item, item)
	}
}

func TestTransactWriteItems(t *testing.T) {
	ctx := context.Background()
	put := func(pk, sk string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{
			TableName:           aws.String(table),
			Item:                key(pk, sk),
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}}
	}
	update := types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(table),
		Key:                       key("TABLE#1", "TABLE"),
		UpdateExpression:          aws.String("SET v = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("x")},
	}}

	tests := []struct {
		name        string
		seed        []map[string]types.AttributeValue
		items       []types.TransactWriteItem
		wantReasons []string // nil: success expected
		wantPuts    []string // sk of observed items
	}{
		{
			name:     "success reports only the puts",
			items:    []types.TransactWriteItem{update, put("TABLE#1", "ENTRY#1"), put("TABLE#1", "ENTRY#2")},
			wantPuts: []string{"ENTRY#1", "ENTRY#2"},
		},
		{
			name:        "failed condition cancels with typed reasons and reports nothing",
			seed:        []map[string]types.AttributeValue{key("TABLE#1", "ENTRY#2")},
			items:       []types.TransactWriteItem{put("TABLE#1", "ENTRY#1"), put("TABLE#1", "ENTRY#2")},
			wantReasons: []string{"None", "ConditionalCheckFailed"},
			wantPuts:    []string{"ENTRY#2"}, // the seed PutItem only
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			for _, it := range tt.seed {
				if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
					t.Fatalf("seed PutItem = %v; want nil", err)
				}
			}
			_, err := e.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tt.items})
			if tt.wantReasons == nil {
				if err != nil {
					t.Fatalf("TransactWriteItems = %v; want nil", err)
				}
			} else {
				var tce *types.TransactionCanceledException
				if !errors.As(err, &tce) {
					t.Fatalf("TransactWriteItems = %v; want *types.TransactionCanceledException", err)
				}
				var got []string
				for _, r := range tce.CancellationReasons {
					got = append(got, aws.ToString(r.Code))
				}
				if !reflect.DeepEqual(got, tt.wantReasons) {
					t.Errorf("CancellationReasons = %v; want %v", got, tt.wantReasons)
				}
			}
			var puts []string
			for _, w := range e.observed() {
				puts = append(puts, w.item["sk"].(*types.AttributeValueMemberS).Value)
			}
			if !reflect.DeepEqual(puts, tt.wantPuts) {
				t.Errorf("observed puts = %v; want %v", puts, tt.wantPuts)
			}
		})
	}
}

func TestFailedPutItemIsNotObserved(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	in := &dynamodb.PutItemInput{
		TableName:           aws.String(table),
		Item:                key("WEBHOOK#1", "WEBHOOK"),
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}
	if _, err := e.ddb.PutItem(ctx, in); err != nil {
		t.Fatalf("first PutItem = %v; want nil", err)
	}
	_, err := e.ddb.PutItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("second PutItem = %v; want *types.ConditionalCheckFailedException", err)
	}
	if _, err := e.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: key("WEBHOOK#1", "WEBHOOK"),
		UpdateExpression:          aws.String("SET v = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("x")},
	}); err != nil {
		t.Fatalf("UpdateItem = %v; want nil", err)
	}
	if got := len(e.observed()); got != 1 {
		t.Errorf("observed %d writes; want 1 (failed PutItem and UpdateItem are not reported)", got)
	}
}

func TestConcurrentWritesAreAllObserved(t *testing.T) {
	e := newEnv(t, nil)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := e.ddb.PutItem(context.Background(), &dynamodb.PutItemInput{
				TableName: aws.String(table), Item: key("TABLE#1", "ENTRY#"+string(rune('a'+i))),
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("PutItem = %v; want nil", err)
		}
	}
	if got := len(e.observed()); got != n {
		t.Errorf("observed %d writes; want %d", got, n)
	}
}

// TestTimeToLive: the table is made with TTL on expiresAt, as the template makes it; a change
// to the state it is in is refused, as DynamoDB refuses it, and a real change is kept.
func TestTimeToLive(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	describe := func() *types.TimeToLiveDescription {
		t.Helper()
		out, err := e.ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatalf("DescribeTimeToLive = %v; want nil", err)
		}
		return out.TimeToLiveDescription
	}
	update := func(enabled bool) error {
		_, err := e.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(table),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{
				AttributeName: aws.String("expiresAt"), Enabled: aws.Bool(enabled),
			},
		})
		return err
	}
	if d := describe(); d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != "expiresAt" {
		t.Errorf("DescribeTimeToLive = %+v; want ENABLED on expiresAt", d)
	}
	var api smithy.APIError
	if err := update(true); !errors.As(err, &api) || api.ErrorCode() != "ValidationException" {
		t.Errorf("UpdateTimeToLive(enable again) = %v; want ValidationException", err)
	}
	if err := update(false); err != nil {
		t.Fatalf("UpdateTimeToLive(disable) = %v; want nil", err)
	}
	if d := describe(); d.TimeToLiveStatus != types.TimeToLiveStatusDisabled {
		t.Errorf("DescribeTimeToLive after disabling = %+v; want DISABLED", d)
	}
}

func TestGetSecretValue(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:by-arn-AbCdEf"
	e := newEnv(t, map[string]string{"rocketlead/token-key": "k1", arn: "k2"})
	tests := []struct {
		name     string
		id       string
		want     string
		wantName string
		notFound bool
	}{
		{name: "by name", id: "rocketlead/token-key", want: "k1", wantName: "rocketlead/token-key"},
		{name: "by ARN of a named secret", id: "arn:aws:secretsmanager:us-east-1:123456789012:secret:rocketlead/token-key", want: "k1", wantName: "rocketlead/token-key"},
		{name: "by configured ARN", id: arn, want: "k2", wantName: "by-arn-AbCdEf"},
		{name: "unknown id", id: "nope", notFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := e.sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(tt.id)})
			if tt.notFound {
				var rnf *smtypes.ResourceNotFoundException
				if !errors.As(err, &rnf) {
					t.Fatalf("GetSecretValue(%q) = %v; want *smtypes.ResourceNotFoundException", tt.id, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetSecretValue(%q) = %v; want nil", tt.id, err)
			}
			if got := aws.ToString(out.SecretString); got != tt.want {
				t.Errorf("GetSecretValue(%q).SecretString = %q; want %q", tt.id, got, tt.want)
			}
			if got := aws.ToString(out.Name); got != tt.wantName {
				t.Errorf("GetSecretValue(%q).Name = %q; want %q", tt.id, got, tt.wantName)
			}
			if out.CreatedDate == nil || out.CreatedDate.IsZero() || !reflect.DeepEqual(out.VersionStages, []string{"AWSCURRENT"}) {
				t.Errorf("GetSecretValue(%q) CreatedDate=%v VersionStages=%v; want a date and [AWSCURRENT]", tt.id, out.CreatedDate, out.VersionStages)
			}
		})
	}
}

func TestUnknownOperations(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()

	t.Run("secretsmanager operation the stand-in lacks", func(t *testing.T) {
		_, err := e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("x"), SecretString: aws.String("y")})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
			t.Errorf("CreateSecret = %v; want UnknownOperationException", err)
		}
	})
	t.Run("dynamodb operation minidyn lacks", func(t *testing.T) {
		_, err := e.ddb.DescribeLimits(ctx, &dynamodb.DescribeLimitsInput{})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
			t.Errorf("DescribeLimits = %v; want UnknownOperationException", err)
		}
	})

	raw := []struct {
		name   string
		target string
	}{
		{name: "no target", target: ""},
		{name: "eventbridge operation other than PutEvents", target: "AWSEvents.ListRules"},
		{name: "unknown service", target: "AWSStepFunctions.StartExecution"},
	}
	for _, tt := range raw {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.url, strings.NewReader("{}"))
			if err != nil {
				t.Fatalf("NewRequest = %v", err)
			}
			if tt.target != "" {
				req.Header.Set("X-Amz-Target", tt.target)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("POST target %q = %v", tt.target, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"__type":"UnknownOperationException"`) {
				t.Errorf("POST target %q = %d %s; want 400 UnknownOperationException", tt.target, resp.StatusCode, body)
			}
		})
	}
}
