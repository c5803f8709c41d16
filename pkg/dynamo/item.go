package dynamo

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// Key prefixes and sort keys of the item layout.
const (
	webhookPrefix = "WEBHOOK#"
	// poolPrefix starts the partition key of a pool and its items: it carries the API's
	// tableId, i.e. the pool id.
	poolPrefix        = "TABLE#"
	orgPrefix         = "ORG#"
	EntryPrefix       = "ENTRY#" // sort key prefix of entry items, used by the stream filter
	leadStatePrefix   = "LEADSTATE#"
	customFieldPrefix = "CUSTOMFIELD#"
	idempotencyPrefix = "IDEMPOTENCY#"
	idempotencySK     = "IDEMPOTENCY"
	// attrEntryID is the idempotency record's entry id.
	attrEntryID = "entryId"
	webhookSK   = "WEBHOOK"
	poolSK      = "TABLE"

	// GSI1Name is the index that lists an organization's webhooks.
	GSI1Name = "gsi1"
)

// Attribute names shared by several items.
const (
	attrPK = "pk"
	attrSK = "sk"
)

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func webhookKey(id string) map[string]types.AttributeValue { return key(webhookPrefix+id, webhookSK) }
func poolKey(poolID string) map[string]types.AttributeValue {
	return key(poolPrefix+poolID, poolSK)
}
func customFieldKey(orgID, id string) map[string]types.AttributeValue {
	return key(orgPrefix+orgID, customFieldPrefix+id)
}

// idempotencyKey is the key of a webhook's idempotency record: a partition of its own, so
// idempotent leads are not capped by one webhook key's writes, and the caller's key (up to
// 255 characters) hashed, so the record stays small.
func idempotencyKey(webhookID, idemKey string) map[string]types.AttributeValue {
	sum := sha256.Sum256([]byte(idemKey))
	return key(idempotencyPrefix+webhookID+"#"+base64.RawURLEncoding.EncodeToString(sum[:]), idempotencySK)
}

// TTLAttribute is the table's time-to-live attribute (epoch seconds).
const TTLAttribute = "expiresAt"

func epoch(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}

// idempotencyItem is a record of under 300 bytes: key, fingerprint, entry id, answer
// digest, creation time and expiry.
func idempotencyItem(r *lead.IdempotencyRecord) map[string]types.AttributeValue {
	item := idempotencyKey(r.WebhookID, r.Key)
	item["fp"] = &types.AttributeValueMemberB{Value: r.Fingerprint}
	item[attrEntryID] = str(r.EntryID)
	if len(r.Answer) > 0 {
		item["answer"] = &types.AttributeValueMemberB{Value: r.Answer}
	}
	item["createdAt"] = epoch(r.CreatedAt)
	item[TTLAttribute] = epoch(r.ExpiresAt)
	return item
}

// idempotencyFromItem decodes a record of webhookID's key idemKey.
func idempotencyFromItem(webhookID, idemKey string, item map[string]types.AttributeValue) (*lead.IdempotencyRecord, error) {
	r := itemReader{item: item}
	rec := &lead.IdempotencyRecord{
		WebhookID:   webhookID,
		Key:         idemKey,
		Fingerprint: r.b("fp"),
		EntryID:     r.s(attrEntryID),
		ExpiresAt:   r.epoch(TTLAttribute),
	}
	rec.Answer = r.optB("answer")
	rec.CreatedAt = r.optEpoch("createdAt")
	if r.err != nil {
		return nil, fmt.Errorf("idempotency record: %w", r.err)
	}
	return rec, nil
}

// The type attribute every item carries, and the type of an entry (FenceType and
// DeletedType, the items of settlement, are in durable.go).
const (
	// TypeAttribute names the kind of an item (EntryType, FenceType, "pool", ...).
	TypeAttribute = "type"
	// EntryType is the type of an entry item.
	EntryType = "entry"
)

// number is a whole number attribute.
func number(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// EntryItem is the DynamoDB item of an entry. A data or custom field value of a type the
// domain does not know is an error, never a silent NULL.
func EntryItem(e *lead.Entry) (map[string]types.AttributeValue, error) {
	data, err := valueMap(e.Data)
	if err != nil {
		return nil, fmt.Errorf("entry %s: data: %w", e.ID, err)
	}
	item := map[string]types.AttributeValue{
		attrPK:           str(entryPK(e.PoolID, EntryShard(e.ID))),
		attrSK:           str(EntryPrefix + e.ID),
		TypeAttribute:    str(EntryType),
		"id":             str(e.ID),
		"tableId":        str(e.PoolID),
		"organizationId": str(e.OrganizationID),
		"webhookId":      str(e.WebhookID),
		"leadStateId":    str(e.LeadStateID),
		"createdAt":      str(lead.FormatTime(e.CreatedAt)),
		"data":           data,
	}
	if e.CustomFieldData != nil {
		if item["customFieldData"], err = valueMap(e.CustomFieldData); err != nil {
			return nil, fmt.Errorf("entry %s: customFieldData: %w", e.ID, err)
		}
	}
	return item, nil
}

// EntryFromItem decodes an entry item written by EntryItem; a missing or malformed
// attribute is an error naming it.
func EntryFromItem(item map[string]types.AttributeValue) (*lead.Entry, error) {
	r := itemReader{item: item}
	e := &lead.Entry{
		ID:             r.s("id"),
		PoolID:         r.s("tableId"),
		OrganizationID: r.s("organizationId"),
		WebhookID:      r.s("webhookId"),
		LeadStateID:    r.s("leadStateId"),
		CreatedAt:      r.time("createdAt"),
	}
	if r.err != nil {
		return nil, fmt.Errorf("entry %s: %w", e.ID, r.err)
	}
	var err error
	if _, ok := item["data"]; !ok {
		return nil, fmt.Errorf("entry %s: data: missing", e.ID)
	}
	if e.Data, err = valuesFromMap(item["data"]); err != nil {
		return nil, fmt.Errorf("entry %s: data: %w", e.ID, err)
	}
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	if _, ok := item["customFieldData"]; ok {
		if e.CustomFieldData, err = valuesFromMap(item["customFieldData"]); err != nil {
			return nil, fmt.Errorf("entry %s: customFieldData: %w", e.ID, err)
		}
	}
	return e, nil
}

// valueMap converts lead values (string, lead.Number, bool, []string, nil) to a DynamoDB map.
func valueMap(m map[string]any) (types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		av, err := value(v)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out[k] = av
	}
	return &types.AttributeValueMemberM{Value: out}, nil
}

func value(v any) (types.AttributeValue, error) {
	switch x := v.(type) {
	case nil:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case string:
		return str(x), nil
	case lead.Number:
		return &types.AttributeValueMemberN{Value: string(x)}, nil
	case bool:
		return &types.AttributeValueMemberBOOL{Value: x}, nil
	case []string:
		l := make([]types.AttributeValue, len(x))
		for i, s := range x {
			l[i] = str(s)
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

func valuesFromMap(av types.AttributeValue) (map[string]any, error) {
	if av == nil {
		return nil, nil
	}
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok {
		// DynamoDB always returns a map here; the embedded DynamoDB (minidyn v0.8.2) returns
		// an empty map as a stray string, which can only mean "empty".
		return map[string]any{}, nil
	}
	out := make(map[string]any, len(m.Value))
	for k, v := range m.Value {
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			out[k] = x.Value
		case *types.AttributeValueMemberN:
			out[k] = lead.Number(x.Value)
		case *types.AttributeValueMemberBOOL:
			out[k] = x.Value
		case *types.AttributeValueMemberNULL:
			out[k] = nil
		case *types.AttributeValueMemberL:
			l := make([]string, len(x.Value))
			for i, e := range x.Value {
				s, ok := e.(*types.AttributeValueMemberS)
				if !ok {
					return nil, fmt.Errorf("key %q: list element %d is not a string", k, i)
				}
				l[i] = s.Value
			}
			out[k] = l
		default:
			return nil, fmt.Errorf("key %q: unsupported attribute type %T", k, v)
		}
	}
	return out, nil
}

// itemReader reads the attributes of one item and keeps the first one that is missing or
// malformed, so a decoder reads every field and then reports one error naming it.
type itemReader struct {
	item map[string]types.AttributeValue
	err  error
}

func (r *itemReader) fail(name, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("attribute %s: %s", name, fmt.Sprintf(format, args...))
	}
}

// absent reports whether the attribute is missing or NULL, which the store writes to clear
// an optional attribute.
func (r *itemReader) absent(name string) bool {
	v, ok := r.item[name]
	if !ok {
		return true
	}
	_, null := v.(*types.AttributeValueMemberNULL)
	return null
}

// s returns a required string attribute.
func (r *itemReader) s(name string) string {
	v, ok := r.item[name]
	if !ok {
		r.fail(name, "missing")
		return ""
	}
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		r.fail(name, "want a string, got %T", v)
		return ""
	}
	return s.Value
}

// optS returns an optional string attribute, "" when absent.
func (r *itemReader) optS(name string) string {
	if r.absent(name) {
		return ""
	}
	return r.s(name)
}

// b returns a required binary attribute.
func (r *itemReader) b(name string) []byte {
	v, ok := r.item[name]
	if !ok {
		r.fail(name, "missing")
		return nil
	}
	b, ok := v.(*types.AttributeValueMemberB)
	if !ok {
		r.fail(name, "want binary, got %T", v)
		return nil
	}
	return b.Value
}

// optBool returns an optional boolean attribute, false when absent.
func (r *itemReader) optBool(name string) bool {
	if r.absent(name) {
		return false
	}
	b, ok := r.item[name].(*types.AttributeValueMemberBOOL)
	if !ok {
		r.fail(name, "want boolean, got %T", r.item[name])
		return false
	}
	return b.Value
}

// optB returns an optional binary attribute, nil when absent.
func (r *itemReader) optB(name string) []byte {
	if r.absent(name) {
		return nil
	}
	return r.b(name)
}

// time returns a required RFC 3339 timestamp attribute.
func (r *itemReader) time(name string) time.Time {
	s := r.s(name)
	if r.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		r.fail(name, "not an RFC 3339 time: %v", err)
		return time.Time{}
	}
	return t.UTC()
}

// optTime returns an optional timestamp attribute, zero when absent.
func (r *itemReader) optTime(name string) time.Time {
	if r.absent(name) {
		return time.Time{}
	}
	return r.time(name)
}

// epoch returns a required number attribute of epoch seconds.
func (r *itemReader) epoch(name string) time.Time {
	v, ok := r.item[name]
	if !ok {
		r.fail(name, "missing")
		return time.Time{}
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		r.fail(name, "want a number, got %T", v)
		return time.Time{}
	}
	sec, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		r.fail(name, "not whole epoch seconds: %v", err)
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

// optEpoch returns an optional epoch seconds attribute, zero when absent.
func (r *itemReader) optEpoch(name string) time.Time {
	if r.absent(name) {
		return time.Time{}
	}
	return r.epoch(name)
}

// optInt returns an optional whole number attribute, 0 when absent.
func (r *itemReader) optInt(name string) int64 {
	if r.absent(name) {
		return 0
	}
	n, ok := r.item[name].(*types.AttributeValueMemberN)
	if !ok {
		r.fail(name, "want a number, got %T", r.item[name])
		return 0
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		r.fail(name, "not a whole number: %v", err)
	}
	return i
}

// stringMap returns an optional map of strings, nil when absent.
func (r *itemReader) stringMap(name string) map[string]string {
	if r.absent(name) {
		return nil
	}
	m, ok := r.item[name].(*types.AttributeValueMemberM)
	if _, stray := r.item[name].(*types.AttributeValueMemberS); stray {
		// As in valuesFromMap: the embedded DynamoDB (minidyn v0.8.2) returns a map whose
		// last key was removed as a stray string, which can only mean "empty".
		return map[string]string{}
	}
	if !ok {
		r.fail(name, "want a map, got %T", r.item[name])
		return nil
	}
	out := make(map[string]string, len(m.Value))
	for k, v := range m.Value {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			r.fail(name, "key %q: want a string, got %T", k, v)
			return nil
		}
		out[k] = s.Value
	}
	return out
}

// stringList returns an optional list of strings, nil when absent.
func (r *itemReader) stringList(name string) []string {
	if r.absent(name) {
		return nil
	}
	l, ok := r.item[name].(*types.AttributeValueMemberL)
	if !ok {
		r.fail(name, "want a list, got %T", r.item[name])
		return nil
	}
	out := make([]string, 0, len(l.Value))
	for i, v := range l.Value {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			r.fail(name, "element %d: want a string, got %T", i, v)
			return nil
		}
		out = append(out, s.Value)
	}
	return out
}

func stringList(xs []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(xs))
	for i, s := range xs {
		l[i] = str(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}

func webhookFromItem(item map[string]types.AttributeValue) (*lead.Webhook, error) {
	r := itemReader{item: item}
	w := &lead.Webhook{
		ID:                     r.s("id"),
		OrganizationID:         r.s("organizationId"),
		PoolID:                 r.s("tableId"),
		Name:                   r.s("name"),
		TokenHash:              r.b("tokenHash"),
		PreviousTokenHash:      r.optB("previousTokenHash"),
		PreviousTokenExpiresAt: r.optTime("previousTokenExpiresAt"),
		CreatedAt:              r.time("createdAt"),
		RotatedAt:              r.optTime("rotatedAt"),
		AllowQueryToken:        r.optBool(attrAllowQueryToken),
		Version:                r.optInt(attrVersion),
		RateLimit:              int(r.optInt(attrRateLimit)),
		RateBurst:              int(r.optInt(attrRateBurst)),
	}
	w.SourceSettings = readSourceSettings(&r)
	if r.err != nil {
		return nil, fmt.Errorf("webhook %s: %w", w.ID, r.err)
	}
	form, _, err := formFromAttr(item[attrForm])
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", w.ID, err)
	}
	w.Form = form
	return w, nil
}

func poolFromItem(item map[string]types.AttributeValue) (*lead.Pool, error) {
	r := itemReader{item: item}
	p := &lead.Pool{
		ID:                 r.s("id"),
		OrganizationID:     r.s("organizationId"),
		Name:               r.s("name"),
		DefaultLeadStateID: r.optS("defaultLeadStateId"),
		Schema:             lead.Schema{},
		SchemaVersion:      r.optInt(attrSchemaVersion),
		Version:            r.optInt(attrVersion),
	}
	for k, t := range r.stringMap("schema") {
		if !lead.FieldType(t).Valid() {
			r.fail("schema", "key %q: unknown type %q", k, t)
		}
		p.Schema[k] = lead.FieldType(t)
	}
	states := r.stringMap("leadStates")
	if r.err != nil {
		return nil, fmt.Errorf("pool %s: %w", p.ID, r.err)
	}
	p.LeadStateIDs = make([]string, 0, len(states))
	for id := range states {
		p.LeadStateIDs = append(p.LeadStateIDs, id)
	}
	sort.Strings(p.LeadStateIDs)
	return p, nil
}

func customFieldFromItem(item map[string]types.AttributeValue) (lead.CustomField, error) {
	r := itemReader{item: item}
	f := lead.CustomField{
		ID:             r.s("id"),
		OrganizationID: r.s("organizationId"),
		Name:           r.s("name"),
		Type:           lead.CustomFieldType(r.s("fieldType")),
		Options:        r.stringList("options"),
		Version:        r.optInt(attrVersion),
	}
	if r.err == nil && !f.Type.Valid() {
		r.fail("fieldType", "unknown custom field type %q", f.Type)
	}
	if r.err != nil {
		return lead.CustomField{}, fmt.Errorf("custom field %s: %w", f.ID, r.err)
	}
	return f, nil
}

func stateFromItem(item map[string]types.AttributeValue) (lead.State, error) {
	r := itemReader{item: item}
	st := lead.State{ID: r.s("id"), PoolID: r.s("tableId"), Name: r.s("name"), Version: r.optInt(attrVersion)}
	if r.err != nil {
		return lead.State{}, fmt.Errorf("lead state %s: %w", st.ID, r.err)
	}
	return st, nil
}

// ItemSize estimates the stored size of an item by DynamoDB's rules (attribute names plus
// values; numbers about one byte per two digits; 3 bytes of overhead per map or list and 1
// per element). It errs on the large side, so an item it accepts fits.
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return len(x.Value)
	case *types.AttributeValueMemberN:
		return (len(x.Value)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(x.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range x.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range x.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range x.Value {
			n += len(s)
		}
		return n
	}
	return 0
}
