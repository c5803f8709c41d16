package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// ErrExists is returned when an item to create is already there.
var ErrExists = errors.New("item already exists")

// CreatePool writes a pool with its first lead state as the default, atomically. The pool
// has no schema attribute until its first keys are locked (see lockSchema).
func (s *Store) CreatePool(ctx context.Context, p *lead.Pool, state *lead.State) error {
	poolItem := key(poolPrefix+p.ID, poolSK)
	poolItem["type"] = str("pool")
	poolItem["id"] = str(p.ID)
	poolItem["organizationId"] = str(p.OrganizationID)
	poolItem["name"] = str(p.Name)
	poolItem["defaultLeadStateId"] = str(state.ID)
	poolItem["leadStates"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{state.ID: str(state.Name)}}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: &s.table, Item: poolItem, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
			{Put: &types.Put{TableName: &s.table, Item: leadStateItem(p.ID, state), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		},
	})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return fmt.Errorf("create pool %s: %w", p.ID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create pool %s: %w", p.ID, err)
	}
	return nil
}

func leadStateItem(poolID string, st *lead.State) map[string]types.AttributeValue {
	item := key(poolPrefix+poolID, leadStatePrefix+st.ID)
	item["type"] = str("leadState")
	item["id"] = str(st.ID)
	item["tableId"] = str(poolID)
	item["name"] = str(st.Name)
	return item
}

// PutCustomField creates or replaces an organization's custom field.
func (s *Store) PutCustomField(ctx context.Context, f *lead.CustomField) error {
	item := customFieldKey(f.OrganizationID, f.ID)
	item["type"] = str("customField")
	item["id"] = str(f.ID)
	item["organizationId"] = str(f.OrganizationID)
	item["name"] = str(f.Name)
	item["fieldType"] = str(string(f.Type))
	if len(f.Options) > 0 {
		// No empty list: minidyn v0.8.2 turns empty lists and maps into typeless values
		// when it rolls back any cancelled transaction, which breaks later queries.
		item["options"] = stringList(f.Options)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item}); err != nil {
		return fmt.Errorf("put custom field %s: %w", f.ID, err)
	}
	return nil
}

// CreateWebhook writes a new webhook; its organization's listing index keys are set too.
func (s *Store) CreateWebhook(ctx context.Context, w *lead.Webhook) error {
	item := webhookKey(w.ID)
	item["type"] = str("webhook")
	item["id"] = str(w.ID)
	item["organizationId"] = str(w.OrganizationID)
	item["tableId"] = str(w.PoolID)
	item["name"] = str(w.Name)
	item["tokenHash"] = &types.AttributeValueMemberB{Value: w.TokenHash}
	item["createdAt"] = str(lead.FormatTime(w.CreatedAt))
	item["gsi1pk"] = str(orgPrefix + w.OrganizationID)
	item["gsi1sk"] = str(webhookPrefix + lead.FormatTime(w.CreatedAt) + "#" + w.ID)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &s.table,
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("create webhook %s: %w", w.ID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create webhook %s: %w", w.ID, err)
	}
	return nil
}
