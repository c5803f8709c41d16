package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// Pool reads a pool item (strongly consistent); it returns nil when there is none.
func (s *Store) Pool(ctx context.Context, poolID string) (*lead.Pool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            poolKey(poolID),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get pool %s: %w", poolID, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	p, err := poolFromItem(out.Item)
	if err != nil {
		return nil, fmt.Errorf("read pool %s: %w", poolID, err)
	}
	return p, nil
}

// AddLeadState writes a lead state item and names it in the pool's leadStates map, in one
// transaction; a missing pool is lead.ErrNotFound.
func (s *Store) AddLeadState(ctx context.Context, poolID string, st *lead.State) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{
				TableName:                 &s.table,
				Key:                       poolKey(poolID),
				UpdateExpression:          aws.String("SET leadStates.#id = :name"),
				ConditionExpression:       aws.String("attribute_exists(pk)"),
				ExpressionAttributeNames:  map[string]string{"#id": st.ID},
				ExpressionAttributeValues: map[string]types.AttributeValue{":name": str(st.Name)},
			}},
			{Put: &types.Put{TableName: &s.table, Item: leadStateItem(poolID, st), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		},
	})
	if reason := cancelled(err); reason == 0 {
		return fmt.Errorf("add lead state to pool %s: %w", poolID, lead.ErrNotFound)
	} else if reason == 1 {
		return fmt.Errorf("add lead state %s: %w", st.ID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("add lead state to pool %s: %w", poolID, err)
	}
	return nil
}

// SetDefaultLeadState sets the pool's defaultLeadStateId, on condition that the pool holds
// the state; otherwise lead.ErrNotFound.
func (s *Store) SetDefaultLeadState(ctx context.Context, poolID, stateID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       poolKey(poolID),
		UpdateExpression:          aws.String("SET defaultLeadStateId = :id"),
		ConditionExpression:       aws.String("attribute_exists(leadStates.#id)"),
		ExpressionAttributeNames:  map[string]string{"#id": stateID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": str(stateID)},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("set default lead state of pool %s: %w", poolID, lead.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set default lead state of pool %s: %w", poolID, err)
	}
	return nil
}

// DeleteLeadState deletes a lead state item and its entry in the pool's map in one
// transaction, on condition that it is not the pool's default (else lead.ErrChanged) and
// that it exists (else lead.ErrNotFound).
func (s *Store) DeleteLeadState(ctx context.Context, poolID, stateID string) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{
				TableName:                 &s.table,
				Key:                       poolKey(poolID),
				UpdateExpression:          aws.String("REMOVE leadStates.#id"),
				ConditionExpression:       aws.String("attribute_exists(leadStates.#id) AND defaultLeadStateId <> :id"),
				ExpressionAttributeNames:  map[string]string{"#id": stateID},
				ExpressionAttributeValues: map[string]types.AttributeValue{":id": str(stateID)},
			}},
			{Delete: &types.Delete{
				TableName:           &s.table,
				Key:                 key(poolPrefix+poolID, leadStatePrefix+stateID),
				ConditionExpression: aws.String("attribute_exists(pk)"),
			}},
		},
	})
	switch cancelled(err) {
	case 0:
		// Tell "is the default" from "does not exist" by looking: the condition does not say.
		p, gerr := s.Pool(ctx, poolID)
		if gerr == nil && p != nil && p.DefaultLeadStateID == stateID {
			return fmt.Errorf("delete lead state %s: %w", stateID, lead.ErrChanged)
		}
		return fmt.Errorf("delete lead state %s: %w", stateID, lead.ErrNotFound)
	case 1:
		return fmt.Errorf("delete lead state %s: %w", stateID, lead.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete lead state %s of pool %s: %w", stateID, poolID, err)
	}
	return nil
}

// ListLeadStates returns a pool's lead states, ordered by id.
func (s *Store) ListLeadStates(ctx context.Context, poolID string) ([]lead.State, error) {
	items, err := s.queryPrefix(ctx, poolPrefix+poolID, leadStatePrefix)
	if err != nil {
		return nil, fmt.Errorf("list lead states of pool %s: %w", poolID, err)
	}
	out := make([]lead.State, 0, len(items))
	for _, item := range items {
		st, err := stateFromItem(item)
		if err != nil {
			return nil, fmt.Errorf("list lead states of pool %s: %w", poolID, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// ListCustomFields returns an organization's custom fields, ordered by name.
func (s *Store) ListCustomFields(ctx context.Context, orgID string) ([]lead.CustomField, error) {
	items, err := s.queryPrefix(ctx, orgPrefix+orgID, customFieldPrefix)
	if err != nil {
		return nil, fmt.Errorf("list custom fields of organization %s: %w", orgID, err)
	}
	out := make([]lead.CustomField, 0, len(items))
	for _, item := range items {
		f, err := customFieldFromItem(item)
		if err != nil {
			return nil, fmt.Errorf("list custom fields of organization %s: %w", orgID, err)
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteCustomField deletes a custom field; an unknown one is lead.ErrNotFound.
func (s *Store) DeleteCustomField(ctx context.Context, orgID, fieldID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           &s.table,
		Key:                 customFieldKey(orgID, fieldID),
		ConditionExpression: aws.String("attribute_exists(pk)"),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("delete custom field %s: %w", fieldID, lead.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete custom field %s: %w", fieldID, err)
	}
	return nil
}

// queryPrefix returns every item of a partition whose sort key starts with prefix, all pages.
func (s *Store) queryPrefix(ctx context.Context, pk, prefix string) ([]map[string]types.AttributeValue, error) {
	in := &dynamodb.QueryInput{
		TableName:              &s.table,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(pk),
			":p":  str(prefix),
		},
		ConsistentRead: aws.Bool(true),
	}
	var items []map[string]types.AttributeValue
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// cancelled returns the index of the first transaction item whose condition failed, or -1
// when err is not such a cancellation.
func cancelled(err error) int {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return -1
	}
	for i, r := range tce.CancellationReasons {
		if aws.ToString(r.Code) == "ConditionalCheckFailed" {
			return i
		}
	}
	return -1
}

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
	switch {
	case cancelled(err) >= 0:
		// Only a failed condition says the pool or its state is already there.
		return fmt.Errorf("create pool %s: %w", p.ID, ErrExists)
	case errors.As(err, &tce) && lead.ErrorCode(err) != lead.EUNAVAILABLE:
		// Cancelled without a failed condition (a conflict, a throttle): nothing is written,
		// and a later try may succeed.
		return unavailable("create pool "+p.ID, err)
	case err != nil:
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
