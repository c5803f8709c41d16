package localaws_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestEmptyListsSurviveACancelledTransaction: an item holding an empty list or map (an entry
// {"data":{"tags":[]}}), then a transaction cancelled by a failed condition, must leave
// every item readable, by GetItem, Query and Scan, with its empty values as written.
func TestEmptyListsSurviveACancelledTransaction(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	item := key("POOL#1", "ENTRY#1")
	item["data"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		"tags":  &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		"name":  s("Ada"),
	}}
	item["list"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	other := key("POOL#1", "ENTRY#2")
	if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: other}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	// A transaction whose condition fails: the same entry again, and another item.
	_, err := e.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(table), Item: key("POOL#1", "ENTRY#3")}},
		{Put: &types.Put{TableName: aws.String(table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		t.Fatalf("TransactWriteItems = %v; want a cancellation", err)
	}
	got, err := e.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("POOL#1", "ENTRY#1"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem after the cancelled transaction: %v", err)
	}
	if l, ok := got.Item["list"].(*types.AttributeValueMemberL); !ok || len(l.Value) != 0 {
		t.Errorf("list = %#v; want an empty list", got.Item["list"])
	}
	data, _ := got.Item["data"].(*types.AttributeValueMemberM)
	if data == nil {
		t.Fatalf("data = %#v; want a map", got.Item["data"])
	}
	if l, ok := data.Value["tags"].(*types.AttributeValueMemberL); !ok || len(l.Value) != 0 {
		t.Errorf("data.tags = %#v; want an empty list", data.Value["tags"])
	}
	if m, ok := data.Value["empty"].(*types.AttributeValueMemberM); !ok || len(m.Value) != 0 {
		t.Errorf("data.empty = %#v; want an empty map", data.Value["empty"])
	}
	q, err := e.ddb.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("POOL#1")}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("Query after the cancelled transaction: %v", err)
	}
	if len(q.Items) != 2 {
		t.Errorf("Query found %d items; want 2 (the cancelled transaction wrote nothing)", len(q.Items))
	}
	sc, err := e.ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("Scan after the cancelled transaction: %v", err)
	}
	if len(sc.Items) != 2 {
		t.Errorf("Scan found %d items; want 2", len(sc.Items))
	}
}
