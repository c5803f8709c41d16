package localaws

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// wireValue is one AttributeValue in DynamoDB's JSON wire form. Numbers stay strings, so
// they are reported exactly as the client sent them.
type wireValue struct {
	S    *string                    `json:"S"`
	N    *string                    `json:"N"`
	B    []byte                     `json:"B"`
	BOOL *bool                      `json:"BOOL"`
	NULL *bool                      `json:"NULL"`
	M    map[string]json.RawMessage `json:"M"`
	L    []json.RawMessage          `json:"L"`
	SS   []string                   `json:"SS"`
	NS   []string                   `json:"NS"`
	BS   [][]byte                   `json:"BS"`
}

var errNoType = errors.New("attribute value has no known type")

// decodeItem converts a DynamoDB-JSON item into SDK AttributeValues.
func decodeItem(raw map[string]json.RawMessage) (map[string]types.AttributeValue, error) {
	item := make(map[string]types.AttributeValue, len(raw))
	for name, v := range raw {
		av, err := decodeValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		item[name] = av
	}
	return item, nil
}

// decodeValue converts one DynamoDB-JSON attribute value. A nil slice or map means the key was
// absent; an empty one ("L": []) is a real, empty value.
func decodeValue(raw json.RawMessage) (types.AttributeValue, error) {
	var w wireValue
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("decode attribute value: %w", err)
	}
	switch {
	case w.S != nil:
		return &types.AttributeValueMemberS{Value: *w.S}, nil
	case w.N != nil:
		return &types.AttributeValueMemberN{Value: *w.N}, nil
	case w.B != nil:
		return &types.AttributeValueMemberB{Value: w.B}, nil
	case w.BOOL != nil:
		return &types.AttributeValueMemberBOOL{Value: *w.BOOL}, nil
	case w.NULL != nil:
		return &types.AttributeValueMemberNULL{Value: *w.NULL}, nil
	case w.M != nil:
		m, err := decodeItem(w.M)
		if err != nil {
			return nil, fmt.Errorf("map: %w", err)
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	case w.L != nil:
		l := make([]types.AttributeValue, len(w.L))
		for i, e := range w.L {
			av, err := decodeValue(e)
			if err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case w.SS != nil:
		return &types.AttributeValueMemberSS{Value: w.SS}, nil
	case w.NS != nil:
		return &types.AttributeValueMemberNS{Value: w.NS}, nil
	case w.BS != nil:
		return &types.AttributeValueMemberBS{Value: w.BS}, nil
	default:
		return nil, errNoType
	}
}
