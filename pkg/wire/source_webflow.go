package wire

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// The webflow source: a form_submission webhook, {triggerType, payload:
// {name, data: {<label>: <value>}, id, formId, …}}. Webhooks made through Webflow's API
// are signed: x-webflow-signature = hex HMAC-SHA256(secret, "<x-webflow-timestamp>:" +
// raw body), the timestamp in milliseconds within 5 minutes; those made in the dashboard
// are not, and use ?token=. payload.id is the delivery id; Webflow counts only 200 as
// delivered.
var _ = register(&Source{
	name:      "webflow",
	sigHeader: "x-webflow-signature",
	verify:    verifyWebflow,
	newSecret: func() (string, error) { return randomSecret("", 32, base64URL) },
	jsonBody:  true,
	read:      readWebflow,
	answer:    http.StatusOK,
})

const webflowShape = `a JSON object {"triggerType": "form_submission", "payload": {"data": {…}}}`

// webflowMeta are payload's ids and times, kept under _webflow. (name as form_name).
var webflowMeta = []string{"id", "formId", "formElementId", "siteId", "pageId", "publishedPath", "pageUrl", "submittedAt"}

func verifyWebflow(r SourceRequest, secrets [][]byte) error {
	ts := r.header("x-webflow-timestamp")
	if ts == "" {
		return lead.SignatureInvalid("send the x-webflow-timestamp header exactly once with the signature")
	}
	if !timestampWithin(ts, time.Millisecond, r.Now) {
		return lead.SignatureInvalid("the x-webflow-timestamp is not within 5 minutes of now")
	}
	sig, ok := hexDecode(r.header("x-webflow-signature"))
	if !ok || len(sig) != 32 {
		return lead.SignatureInvalid("the x-webflow-signature header is not a hex HMAC-SHA256")
	}
	if !anyMatch(sig, secrets, []byte(ts), []byte(":"), r.Raw) {
		return lead.SignatureInvalid("the x-webflow-signature does not match the body and the webhook's signing secret")
	}
	return nil
}

func readWebflow(r SourceRequest) (*sourceData, error) {
	obj, err := vendorJSON(r.Raw, "webflow", webflowShape)
	if err != nil {
		return nil, err
	}
	p := member(obj, "payload")
	data := member(p, "data")
	if data == nil {
		return nil, wrongShape("webflow", webflowShape)
	}
	d := newSourceData()
	for _, k := range data.keys {
		switch v := data.values[k].(type) {
		case nil, string, bool, json.Number:
			d.set(dataKey(k), v)
		case []any:
			d.set(dataKey(k), stringsOf(v))
		}
	}
	d.meta("webflow", "form_name", p.values["name"])
	for _, m := range webflowMeta {
		d.meta("webflow", m, p.values[m])
	}
	d.deliveryID = text(p, "id")
	return d, nil
}
