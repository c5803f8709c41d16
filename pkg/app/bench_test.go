package app_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const benchBody = `{"data":{"email":"ada@example.com","firstName":"Ada","age":36,"newsletter":true,"interests":["analytics","engines"]}}`

// BenchmarkIngestWarm measures the warm handler path in process against the local AWS
// endpoints: webhook GetItem and entry PutItem (the schema is locked and the pool cached first).
func BenchmarkIngestWarm(b *testing.B) {
	f := newFixture(b)
	if resp, _ := f.do(b, f.post(benchBody, f.token)); resp.StatusCode != 201 {
		b.Fatalf("warm-up status %d", resp.StatusCode)
	}
	req := f.post(benchBody, f.token)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := f.handler(ctx, req)
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("status %d, err %v", resp.StatusCode, err)
		}
	}
}

// BenchmarkBaselineGetItem is the yardstick for BenchmarkIngestWarm: one strongly
// consistent GetItem of the webhook item with the same SDK client and local endpoint. The
// warm path makes two DynamoDB calls, so about 2× this plus the handler's own work.
func BenchmarkBaselineGetItem(b *testing.B) {
	f := newFixture(b)
	db := dynamodb.NewFromConfig(f.env.Config)
	in := &dynamodb.GetItemInput{
		TableName:      aws.String(f.env.App.TableName),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "WEBHOOK#" + f.webhookID}, "sk": &types.AttributeValueMemberS{Value: "WEBHOOK"}},
		ConsistentRead: aws.Bool(true),
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := db.GetItem(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
