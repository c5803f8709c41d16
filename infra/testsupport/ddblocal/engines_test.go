package ddblocal_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/ddblocal"
)

// outcome is what an engine did with a call: "ok" or the error code.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return "transport: " + err.Error()
}

func key(sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "ENGINE"},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}

func item(sk string, extra map[string]types.AttributeValue) map[string]types.AttributeValue {
	it := key(sk)
	for k, v := range extra {
		it[k] = v
	}
	return it
}

func getN(t *testing.T, db *dynamodb.Client, sk, attr string) string {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(awstest.Table), Key: key(sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem(%s): %v", sk, err)
	}
	n, _ := out.Item[attr].(*types.AttributeValueMemberN)
	if n == nil {
		return "<missing>"
	}
	return n.Value
}

// TestEngineDifferences pins down what each engine does with the calls this project makes
// where minidyn and DynamoDB Local (like DynamoDB) differ. Production code follows the
// DynamoDB column; the minidyn column is what the fast pass can and cannot prove.
func TestEngineDifferences(t *testing.T) {
	tests := []struct {
		name              string
		call              func(t *testing.T, db *dynamodb.Client) string
		minidyn, ddbLocal string
	}{
		{
			name: "item over 400 KB",
			call: func(t *testing.T, db *dynamodb.Client) string {
				_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(awstest.Table),
					Item: item("big", map[string]types.AttributeValue{"b": &types.AttributeValueMemberS{Value: strings.Repeat("x", 400*1024)}})})
				return outcome(err)
			},
			minidyn: "ok", ddbLocal: "ValidationException",
		},
		{
			name: "expression over 4 KB",
			call: func(t *testing.T, db *dynamodb.Client) string {
				_, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(awstest.Table), Key: key("expr"),
					UpdateExpression:          aws.String("SET #a = :v" + strings.Repeat(" ", 4100)),
					ExpressionAttributeNames:  map[string]string{"#a": "a"},
					ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "1"}}})
				return outcome(err)
			},
			minidyn: "ok", ddbLocal: "ValidationException",
		},
		{
			name: "39 significant digits",
			call: func(t *testing.T, db *dynamodb.Client) string {
				_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(awstest.Table),
					Item: item("digits", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "123456789012345678901234567890123456789"}})})
				return outcome(err)
			},
			minidyn: "ok", ddbLocal: "ValidationException",
		},
		{
			name: "number normalisation",
			call: func(t *testing.T, db *dynamodb.Client) string {
				_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(awstest.Table),
					Item: item("norm", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "01.50"}})})
				if err != nil {
					return outcome(err)
				}
				return getN(t, db, "norm", "n")
			},
			minidyn: "01.50", ddbLocal: "1.5",
		},
		{
			name: "ClientRequestToken reused for another transaction",
			call: func(t *testing.T, db *dynamodb.Client) string {
				tx := func(sk string) error {
					_, err := db.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{
						ClientRequestToken: aws.String("engine-token-1"),
						TransactItems:      []types.TransactWriteItem{{Put: &types.Put{TableName: aws.String(awstest.Table), Item: item(sk, nil)}}},
					})
					return err
				}
				if err := tx("tokA"); err != nil {
					return "first: " + outcome(err)
				}
				return outcome(tx("tokB"))
			},
			minidyn: "ok", ddbLocal: "IdempotentParameterMismatchException",
		},
		{
			name: "ClientRequestToken replay of a conditional transaction",
			call: func(t *testing.T, db *dynamodb.Client) string {
				in := &dynamodb.TransactWriteItemsInput{
					ClientRequestToken: aws.String("engine-token-2"),
					TransactItems: []types.TransactWriteItem{{Put: &types.Put{TableName: aws.String(awstest.Table), Item: item("replay", nil),
						ConditionExpression: aws.String("attribute_not_exists(pk)")}}},
				}
				if _, err := db.TransactWriteItems(context.Background(), in); err != nil {
					return "first: " + outcome(err)
				}
				_, err := db.TransactWriteItems(context.Background(), in)
				return outcome(err)
			},
			minidyn: "TransactionCanceledException", ddbLocal: "ok",
		},
		{
			name: "empty map and list round trip",
			call: func(t *testing.T, db *dynamodb.Client) string {
				_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(awstest.Table),
					Item: item("empty", map[string]types.AttributeValue{
						"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
						"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
					})})
				if err != nil {
					return outcome(err)
				}
				out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(awstest.Table), Key: key("empty"), ConsistentRead: aws.Bool(true)})
				if err != nil {
					return outcome(err)
				}
				_, m := out.Item["m"].(*types.AttributeValueMemberM)
				_, l := out.Item["l"].(*types.AttributeValueMemberL)
				if out.Item["m"] == nil && out.Item["l"] == nil {
					return "dropped"
				}
				if !m || !l {
					return fmt.Sprintf("types lost: m=%T l=%T", out.Item["m"], out.Item["l"])
				}
				return "ok"
			},
			// minidyn alone drops both (and its transaction snapshot loses their type); the local
			// stand-in carries them through it (localaws/empties.go), so both engines keep them.
			minidyn: "ok", ddbLocal: "ok",
		},
		{
			name: "UpdateTimeToLive",
			call: func(t *testing.T, db *dynamodb.Client) string {
				_, err := db.UpdateTimeToLive(context.Background(), &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(awstest.Table),
					TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("expiresAt"), Enabled: aws.Bool(true)}})
				return outcome(err)
			},
			// The table is made with TTL on expiresAt, as the template makes it, so enabling it
			// again is refused, as DynamoDB refuses it. With minidyn the local AWS endpoints keep
			// the setting (never enforcing it) and refuse the same way.
			minidyn: "ValidationException", ddbLocal: "ValidationException",
		},
	}
	engine, want := "minidyn", func(minidyn, _ string) string { return minidyn }
	if ddblocal.Endpoint() != "" {
		engine, want = "DynamoDB Local", func(_, ddbLocal string) string { return ddbLocal }
	}
	env := awstest.Start(t)
	db := dynamodb.NewFromConfig(env.Config, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, w := tt.call(t, db), want(tt.minidyn, tt.ddbLocal); got != w {
				t.Errorf("%s: %s = %q; want %q", engine, tt.name, got, w)
			}
		})
	}
}
