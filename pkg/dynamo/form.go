package dynamo

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// attrForm is the webhook item's map of form settings; NULL or absent: none.
const attrForm = "form"

// Sealer seals and opens the secrets the store keeps for the service (a webhook's CAPTCHA
// secret): the item's pk and sk are the associated data, so a sealed value opens only
// where it was written.
type Sealer = lead.Sealer

// WithSealer returns the store sealing secrets on write and opening them on the ingest
// read of a webhook; without one, a write of a secret is an error and reads leave it sealed.
func (s *Store) WithSealer(x Sealer) *Store {
	c := *s
	c.sealer = x
	return &c
}

// webhookAAD is the associated data of a webhook's sealed secrets: its pk and sk.
func webhookAAD(id string) []byte {
	return lead.WebhookSealAD(id)
}

// UpdateWebhook applies a change of a webhook's settings in one UpdateItem conditional on
// the version read (a late write cannot undo a later change, a honeypot or CAPTCHA turned
// on stays on), sealing a CAPTCHA secret, and returns the webhook as written; an unknown
// id is lead.ErrNotFound.
func (s *Store) UpdateWebhook(ctx context.Context, id string, ch lead.WebhookChange) (*lead.Webhook, error) {
	names, values, sets := map[string]string{}, map[string]types.AttributeValue{}, []string{}
	var wantForm types.AttributeValue
	if ch.AllowQueryToken != nil {
		names["#q"], values[":q"] = attrAllowQueryToken, &types.AttributeValueMemberBOOL{Value: *ch.AllowQueryToken}
		sets = append(sets, "#q = :q")
	}
	if ch.SetForm {
		av, err := s.formAttr(id, ch.Form)
		if err != nil {
			return nil, fmt.Errorf("update webhook %s: %w", id, err)
		}
		names["#f"], values[":f"], wantForm = attrForm, av, av
		sets = append(sets, "#f = :f")
	}
	if ch.Source != nil {
		sets = setSource(ch.Source, sets, names, values)
	}
	if ch.Rate != nil {
		// 0 (the default) is written as NULL, which reads as absent: minidyn ignores a
		// top-level REMOVE.
		names["#rl"], values[":rl"] = attrRateLimit, numberOrNull(ch.Rate.Limit)
		names["#rb"], values[":rb"] = attrRateBurst, numberOrNull(ch.Rate.Burst)
		sets = append(sets, "#rl = :rl", "#rb = :rb")
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("update webhook %s: nothing to change", id)
	}
	return s.updateWebhook(ctx, "update", id, func() *dynamodb.UpdateItemInput {
		return &dynamodb.UpdateItemInput{UpdateExpression: aws.String("SET " + strings.Join(sets, ", ")), ExpressionAttributeNames: maps.Clone(names), ExpressionAttributeValues: maps.Clone(values)}
	}, func(item map[string]types.AttributeValue) bool {
		if q, _ := item[attrAllowQueryToken].(*types.AttributeValueMemberBOOL); ch.AllowQueryToken != nil && (q != nil && q.Value) != *ch.AllowQueryToken {
			return false
		}
		if ch.Source != nil && !holdsSource(item, ch.Source) {
			return false
		}
		if ch.Rate != nil && !holdsRate(item, ch.Rate) {
			return false
		}
		return !ch.SetForm || sameForm(item[attrForm], wantForm)
	})
}

// formAttr is the stored form of form settings: a map, NULL for none. The CAPTCHA secret
// is sealed; a fresh nonce makes each write's sealed value its own, which is what tells a
// settled write apart from an earlier one.
func (s *Store) formAttr(id string, f *lead.FormSettings) (types.AttributeValue, error) {
	if f == nil {
		return &types.AttributeValueMemberNULL{Value: true}, nil
	}
	m := map[string]types.AttributeValue{}
	for k, v := range map[string]string{"successUrl": f.SuccessURL, "errorUrl": f.ErrorURL, "honeypotField": f.HoneypotField} {
		if v != "" {
			m[k] = str(v)
		}
	}
	if len(f.AllowedOrigins) > 0 {
		l := make([]types.AttributeValue, 0, len(f.AllowedOrigins))
		for _, o := range f.AllowedOrigins {
			l = append(l, str(o))
		}
		m["allowedOrigins"] = &types.AttributeValueMemberL{Value: l}
	}
	if c := f.Captcha; c != nil {
		if s.sealer == nil {
			return nil, fmt.Errorf("no sealer configured to store a CAPTCHA secret")
		}
		sealed, err := s.sealer.Seal([]byte(c.Secret), webhookAAD(id))
		if err != nil {
			return nil, fmt.Errorf("seal CAPTCHA secret: %w", err)
		}
		cm := map[string]types.AttributeValue{"provider": str(string(c.Provider)), "secret": &types.AttributeValueMemberB{Value: sealed}}
		if c.MinScore > 0 {
			cm["minScore"] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(c.MinScore, 'f', -1, 64)}
		}
		m["captcha"] = &types.AttributeValueMemberM{Value: cm}
	}
	return &types.AttributeValueMemberM{Value: m}, nil
}

// sameForm reports whether a form attribute read back is the one written.
func sameForm(got, want types.AttributeValue) bool {
	gf, gs, gerr := formFromAttr(got)
	wf, ws, werr := formFromAttr(want)
	return gerr == nil && werr == nil && reflect.DeepEqual(gf, wf) && bytes.Equal(gs, ws)
}

// formFromAttr decodes stored form settings and the sealed CAPTCHA secret; the secret is
// not opened (Captcha.Configured says one is stored).
func formFromAttr(av types.AttributeValue) (*lead.FormSettings, []byte, error) {
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok {
		if _, null := av.(*types.AttributeValueMemberNULL); av == nil || null {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("attribute %s: want a map, got %T", attrForm, av)
	}
	r := itemReader{item: m.Value}
	f := &lead.FormSettings{SuccessURL: r.optS("successUrl"), ErrorURL: r.optS("errorUrl"), HoneypotField: r.optS("honeypotField")}
	if !r.absent("allowedOrigins") {
		f.AllowedOrigins = r.stringList("allowedOrigins")
	}
	var sealed []byte
	if cm, ok := m.Value["captcha"].(*types.AttributeValueMemberM); ok {
		cr := itemReader{item: cm.Value}
		f.Captcha = &lead.Captcha{Provider: lead.CaptchaProvider(cr.s("provider")), Configured: true}
		sealed = cr.b("secret")
		if !cr.absent("minScore") {
			n, _ := cm.Value["minScore"].(*types.AttributeValueMemberN)
			if n == nil {
				cr.fail("minScore", "want a number")
			} else if v, err := strconv.ParseFloat(n.Value, 64); err != nil {
				cr.fail("minScore", "%v", err)
			} else {
				f.Captcha.MinScore = v
			}
		}
		if cr.err != nil {
			return nil, nil, fmt.Errorf("attribute %s.captcha: %w", attrForm, cr.err)
		}
	}
	if r.err != nil {
		return nil, nil, fmt.Errorf("attribute %s: %w", attrForm, r.err)
	}
	return f, sealed, nil
}

// openCaptcha opens the webhook's sealed CAPTCHA secret for the ingest path.
func (s *Store) openCaptcha(w *lead.Webhook, item map[string]types.AttributeValue) error {
	if w.Form == nil || w.Form.Captcha == nil || s.sealer == nil {
		return nil
	}
	_, sealed, err := formFromAttr(item[attrForm])
	if err != nil {
		return err
	}
	plain, err := s.sealer.Open(sealed, webhookAAD(w.ID))
	if err != nil {
		return fmt.Errorf("open CAPTCHA secret of webhook %s: %w", w.ID, err)
	}
	w.Form.Captcha.Secret = string(plain)
	return nil
}

// FormOf reads a webhook's form settings for a CORS preflight (eventually consistent: a
// preflight only says what a browser may try; the request itself is checked on the
// strongly consistent read). An unknown webhook is nil.
func (s *Store) FormOf(ctx context.Context, id string) (*lead.FormSettings, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                &s.table,
		Key:                      webhookKey(id),
		ProjectionExpression:     aws.String("#f, #t"),
		ExpressionAttributeNames: map[string]string{"#f": attrForm, "#t": "type"},
	})
	if err != nil {
		return nil, false, fmt.Errorf("get form settings of webhook %s: %w", id, err)
	}
	if gone(out.Item) {
		return nil, false, nil
	}
	f, _, err := formFromAttr(out.Item[attrForm])
	if err != nil {
		return nil, false, fmt.Errorf("form settings of webhook %s: %w", id, err)
	}
	return f, true, nil
}
