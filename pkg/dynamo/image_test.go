package dynamo_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
)

func TestItemConvertsEveryAttributeType(t *testing.T) {
	image := map[string]events.DynamoDBAttributeValue{
		"s":    events.NewStringAttribute("x"),
		"n":    events.NewNumberAttribute("0.100000000000000000000000000000000000001"),
		"b":    events.NewBinaryAttribute([]byte{1, 2}),
		"bool": events.NewBooleanAttribute(true),
		"null": events.NewNullAttribute(),
		"ss":   events.NewStringSetAttribute([]string{"a"}),
		"ns":   events.NewNumberSetAttribute([]string{"1.50"}),
		"bs":   events.NewBinarySetAttribute([][]byte{{3}}),
		"l":    events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewStringAttribute("y")}),
		"m":    events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"k": events.NewNumberAttribute("7")}),
	}
	item, err := dynamo.ItemFromImage(image)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"s", item["s"].(*types.AttributeValueMemberS).Value == "x"},
		{"n keeps every digit", item["n"].(*types.AttributeValueMemberN).Value == "0.100000000000000000000000000000000000001"},
		{"b", bytes.Equal(item["b"].(*types.AttributeValueMemberB).Value, []byte{1, 2})},
		{"bool", item["bool"].(*types.AttributeValueMemberBOOL).Value},
		{"null", item["null"].(*types.AttributeValueMemberNULL).Value},
		{"ss", fmt.Sprint(item["ss"].(*types.AttributeValueMemberSS).Value) == "[a]"},
		{"ns", fmt.Sprint(item["ns"].(*types.AttributeValueMemberNS).Value) == "[1.50]"},
		{"bs", len(item["bs"].(*types.AttributeValueMemberBS).Value) == 1},
		{"l", item["l"].(*types.AttributeValueMemberL).Value[0].(*types.AttributeValueMemberS).Value == "y"},
		{"m", item["m"].(*types.AttributeValueMemberM).Value["k"].(*types.AttributeValueMemberN).Value == "7"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("Item(%s) = %#v; wrong conversion", c.name, item[c.name])
		}
	}
}

func TestItemRejectsAZeroAttributeValue(t *testing.T) {
	// A zero DynamoDBAttributeValue claims to be binary and makes its accessor panic.
	_, err := dynamo.ItemFromImage(map[string]events.DynamoDBAttributeValue{"data": events.NewMapAttribute(
		map[string]events.DynamoDBAttributeValue{"x": {}})})
	if err == nil {
		t.Error("Item(zero value) = nil error; want an error, not a panic")
	}
}

func TestIsEntryInsert(t *testing.T) {
	entryKeys := map[string]events.DynamoDBAttributeValue{"sk": events.NewStringAttribute("ENTRY#1")}
	tests := []struct {
		name string
		rec  events.DynamoDBEventRecord
		want bool
	}{
		{"entry insert", events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{Keys: entryKeys}}, true},
		{"entry insert, sk only in the image", events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{NewImage: entryKeys}}, true},
		{"entry modify", events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{Keys: entryKeys}}, false},
		{"entry remove", events.DynamoDBEventRecord{EventName: "REMOVE", Change: events.DynamoDBStreamRecord{Keys: entryKeys}}, false},
		{"webhook insert", events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{Keys: map[string]events.DynamoDBAttributeValue{"sk": events.NewStringAttribute("WEBHOOK")}}}, false},
		{"numeric sk", events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{Keys: map[string]events.DynamoDBAttributeValue{"sk": events.NewNumberAttribute("1")}}}, false},
		{"no keys", events.DynamoDBEventRecord{EventName: "INSERT"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dynamo.IsEntryInsert(tt.rec); got != tt.want {
				t.Errorf("IsEntryInsert(%s) = %v; want %v", tt.name, got, tt.want)
			}
		})
	}
}
