package dynamo

// The table's stream images are items in this package's format: a record that is the INSERT
// of an entry (IsEntryInsert) decodes to the entry (EntryFromRecord) with the store's own
// decoder, so the event's entry renders exactly as the 201 body did. The entry-events
// function's handler (package entryevents) publishes them.

import (
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// insert is the stream event name of a new item.
const insert = string(events.DynamoDBOperationTypeInsert)

// IsEntryInsert reports whether rec is the INSERT of an entry item: the records the event
// source filter of template.yaml lets through. A fence has an entry's key but is no entry.
func IsEntryInsert(rec events.DynamoDBEventRecord) bool {
	if rec.EventName != insert {
		return false
	}
	sk, ok := rec.Change.Keys["sk"]
	if !ok {
		sk, ok = rec.Change.NewImage["sk"]
	}
	if t, ok := rec.Change.NewImage[TypeAttribute]; ok && t.DataType() == events.DataTypeString && t.String() == FenceType {
		return false
	}
	return ok && sk.DataType() == events.DataTypeString && strings.HasPrefix(sk.String(), EntryPrefix)
}

// EntryFromRecord reads the entry from the record's new image with the store's own decoder,
// so the event's entry renders exactly as the 201 body did.
func EntryFromRecord(rec events.DynamoDBEventRecord) (*lead.Entry, error) {
	if len(rec.Change.NewImage) == 0 {
		return nil, fmt.Errorf("record has no new image (stream view type %q)", rec.Change.StreamViewType)
	}
	item, err := ItemFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, fmt.Errorf("new image: %w", err)
	}
	e, err := EntryFromItem(item)
	if err != nil {
		return nil, err
	}
	if e.ID == "" || e.PoolID == "" {
		return nil, fmt.Errorf("new image has no entry id or pool id")
	}
	return e, nil
}

// ItemFromImage converts a stream image to the SDK's attribute values. Numbers stay the exact
// decimal strings DynamoDB sent.
func ItemFromImage(image map[string]events.DynamoDBAttributeValue) (item map[string]types.AttributeValue, err error) {
	// The accessors of DynamoDBAttributeValue panic on a value of another type; a zero
	// value built in Go claims to be binary without being one.
	defer func() {
		if r := recover(); r != nil {
			item, err = nil, fmt.Errorf("malformed attribute value: %v", r)
		}
	}()
	item = make(map[string]types.AttributeValue, len(image))
	for name, v := range image {
		av, err := imageValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		item[name] = av
	}
	return item, nil
}

func imageValue(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, len(l))
		for i, e := range l {
			av, err := imageValue(e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m, err := ItemFromImage(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unsupported attribute type %d", v.DataType())
}
