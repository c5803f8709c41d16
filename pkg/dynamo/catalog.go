package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

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
	if gone(out.Item) {
		return nil, nil
	}
	p, err := poolFromItem(out.Item)
	if err != nil {
		return nil, fmt.Errorf("read pool %s: %w", poolID, err)
	}
	return p, nil
}

// AddLeadState writes a lead state item (version 1, on condition that its key is free) and
// names it in the pool's leadStates map, in one transaction conditional on the pool's
// version read; a missing pool is lead.ErrNotFound, and a pool changed meanwhile is read
// again.
func (s *Store) AddLeadState(ctx context.Context, poolID string, st *lead.State) error {
	for race := 1; ; race++ {
		p, err := s.Pool(ctx, poolID)
		if err != nil {
			return fmt.Errorf("add lead state to pool %s: %w", poolID, err)
		}
		if p == nil {
			return fmt.Errorf("add lead state to pool %s: %w", poolID, lead.ErrNotFound)
		}
		update := aws.String("SET leadStates.#id = :name")
		cond := new(string)
		names := map[string]string{"#id": st.ID}
		values := map[string]types.AttributeValue{":name": str(st.Name)}
		withVersion(update, cond, names, values, p.Version)
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{
				{Update: &types.Update{
					TableName:                 &s.table,
					Key:                       poolKey(poolID),
					UpdateExpression:          update,
					ConditionExpression:       cond,
					ExpressionAttributeNames:  names,
					ExpressionAttributeValues: values,
				}},
				{Put: &types.Put{TableName: &s.table, Item: leadStateItem(poolID, st), ConditionExpression: aws.String("attribute_not_exists(pk)")}},
			},
		})
		switch reason := cancelled(err); {
		case reason == 0 && raceAgain(ctx, race):
			continue
		case reason == 0:
			return fmt.Errorf("add lead state to pool %s: %w", poolID, unavailable("the pool kept changing", err))
		case reason == 1:
			return fmt.Errorf("add lead state %s: %w", st.ID, ErrExists)
		}
		if err != nil {
			return fmt.Errorf("add lead state to pool %s: %w", poolID, err)
		}
		st.Version = 1
		return nil
	}
}

// SetDefaultLeadState sets the pool's defaultLeadStateId, on condition that the pool holds
// the state (otherwise lead.ErrNotFound) and is still at the version read.
func (s *Store) SetDefaultLeadState(ctx context.Context, poolID, stateID string) error {
	_, err := s.changeItem(ctx, poolKey(poolID), func(item map[string]types.AttributeValue, from int64) (func(context.Context, ...func(*dynamodb.Options)) error, func(map[string]types.AttributeValue) bool, error) {
		p, err := poolFromItem(item)
		if err != nil {
			return nil, nil, err
		}
		if !p.HasLeadState(stateID) {
			return nil, nil, lead.ErrNotFound
		}
		in := &dynamodb.UpdateItemInput{
			TableName:                 &s.table,
			Key:                       poolKey(poolID),
			UpdateExpression:          aws.String("SET defaultLeadStateId = :id"),
			ConditionExpression:       aws.String("attribute_exists(leadStates.#id)"),
			ExpressionAttributeNames:  map[string]string{"#id": stateID},
			ExpressionAttributeValues: map[string]types.AttributeValue{":id": str(stateID)},
		}
		withVersion(in.UpdateExpression, in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, from)
		return func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
				_, err := s.db.UpdateItem(ctx, in, optFns...)
				return err
			}, func(item map[string]types.AttributeValue) bool {
				d, _ := item["defaultLeadStateId"].(*types.AttributeValueMemberS)
				return d != nil && d.Value == stateID
			}, nil
	})
	if err != nil {
		return fmt.Errorf("set default lead state of pool %s: %w", poolID, err)
	}
	return nil
}

// DeleteLeadState replaces a lead state item by its tombstone and removes its entry from
// the pool's map in one transaction, on condition that it is not the pool's default (else
// lead.ErrChanged), that it exists (else lead.ErrNotFound) and that the pool and the state
// are still at the versions read (else both are read again).
func (s *Store) DeleteLeadState(ctx context.Context, poolID, stateID string) error {
	stateKey := key(poolPrefix+poolID, leadStatePrefix+stateID)
	for race := 1; ; race++ {
		p, err := s.Pool(ctx, poolID)
		if err != nil {
			return fmt.Errorf("delete lead state %s of pool %s: %w", stateID, poolID, err)
		}
		st, stFrom, err := s.current(ctx, stateKey)
		if err != nil {
			return fmt.Errorf("delete lead state %s of pool %s: %w", stateID, poolID, err)
		}
		if p == nil || st == nil || !p.HasLeadState(stateID) {
			return fmt.Errorf("delete lead state %s: %w", stateID, lead.ErrNotFound)
		}
		if p.DefaultLeadStateID == stateID {
			return fmt.Errorf("delete lead state %s: %w", stateID, lead.ErrChanged)
		}
		cond, names, values := versionCond(attrVersion, p.Version)
		names["#id"] = stateID
		values[":id"] = str(stateID)
		stCond, stNames, stValues := versionCond(attrVersion, stFrom)
		delete(stValues, ":vnext")
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{
				{Update: &types.Update{
					TableName:                 &s.table,
					Key:                       poolKey(poolID),
					UpdateExpression:          aws.String("REMOVE leadStates.#id SET " + versionSet),
					ConditionExpression:       aws.String("attribute_exists(leadStates.#id) AND defaultLeadStateId <> :id AND " + cond),
					ExpressionAttributeNames:  names,
					ExpressionAttributeValues: values,
				}},
				{Put: &types.Put{
					TableName:                 &s.table,
					Item:                      tombstoneItem(stateKey, stFrom, time.Now()),
					ConditionExpression:       aws.String(stCond),
					ExpressionAttributeNames:  stNames,
					ExpressionAttributeValues: nilIfEmpty(stValues),
				}},
			},
		})
		if cancelled(err) >= 0 {
			// One of them changed since it was read: read both again.
			if raceAgain(ctx, race) {
				continue
			}
			return fmt.Errorf("delete lead state %s of pool %s: %w", stateID, poolID, unavailable("the pool kept changing", err))
		}
		if err != nil {
			return fmt.Errorf("delete lead state %s of pool %s: %w", stateID, poolID, err)
		}
		return nil
	}
}

// ListLeadStates returns a pool's lead states, ordered by id.
func (s *Store) ListLeadStates(ctx context.Context, poolID string) ([]lead.State, error) {
	items, err := s.queryPrefix(ctx, poolPrefix+poolID, leadStatePrefix)
	if err != nil {
		return nil, fmt.Errorf("list lead states of pool %s: %w", poolID, err)
	}
	out := make([]lead.State, 0, len(items))
	for _, item := range items {
		if IsTombstone(item) {
			continue
		}
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
		if IsTombstone(item) {
			continue
		}
		f, err := customFieldFromItem(item)
		if err != nil {
			return nil, fmt.Errorf("list custom fields of organization %s: %w", orgID, err)
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteCustomField replaces a custom field by its tombstone, conditional on the version
// read (see deleteItem); an unknown one is lead.ErrNotFound.
func (s *Store) DeleteCustomField(ctx context.Context, orgID, fieldID string) error {
	if err := s.deleteItem(ctx, customFieldKey(orgID, fieldID)); err != nil {
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
	poolItem[attrVersion] = number(1)
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
	item[attrVersion] = number(1)
	return item
}

// PutCustomField creates an organization's custom field at version 1, on condition that its
// key is free (a deleted field's tombstone too): ErrExists otherwise.
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
	err := s.createItem(ctx, item, func(stored map[string]types.AttributeValue) bool {
		n, _ := stored["name"].(*types.AttributeValueMemberS)
		return n != nil && n.Value == f.Name
	})
	if err != nil {
		return fmt.Errorf("put custom field %s: %w", f.ID, err)
	}
	f.Version = 1
	return nil
}
