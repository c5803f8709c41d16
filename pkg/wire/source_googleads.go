package wire

import (
	"net/http"
	"strings"
)

// The google-ads source: a Google Ads lead form webhook. The body is JSON
// with user_column_data[] of {column_id, column_name, string_value}; the user pastes the
// webhook's token into the form's "Key" box, and Google sends it back as google_key in
// every body. lead_id is the delivery id; is_test marks "Send test data".
var _ = register(&Source{
	name:        "google-ads",
	bodyKey:     googleKey,
	jsonBody:    true,
	read:        readGoogleAds,
	answer:      http.StatusOK,
	emptyAnswer: true,
})

// googleAdsMeta are the body members that are Google's ids and times, kept under
// _google-ads.; google_key is never kept.
var googleAdsMeta = []string{"lead_id", "api_version", "form_id", "campaign_id", "adgroup_id", "creative_id", "asset_group_id", "gcl_id", "lead_submit_time"}

const googleAdsShape = `a JSON object with user_column_data[] of {"column_id", "string_value"}`

// googleKey reads the key from the body: google_key, or Google_key as some forms send it.
func googleKey(raw []byte) (string, bool) {
	v, err := decodeStrict(withoutBOM(raw))
	if err != nil {
		return "", false
	}
	obj, ok := v.(*object)
	if !ok {
		return "", false
	}
	for _, k := range []string{"google_key", "Google_key"} {
		if s, ok := obj.values[k].(string); ok {
			return s, true
		}
	}
	return "", false
}

func readGoogleAds(r SourceRequest) (*sourceData, error) {
	obj, err := vendorJSON(r.Raw, "google-ads", googleAdsShape)
	if err != nil {
		return nil, err
	}
	cols, ok := obj.values["user_column_data"].([]any)
	if !ok {
		return nil, wrongShape("google-ads", googleAdsShape)
	}
	d := newSourceData()
	for _, c := range cols {
		col, ok := c.(*object)
		if !ok {
			return nil, wrongShape("google-ads", googleAdsShape)
		}
		k := strings.ToLower(dataKey(text(col, "column_id")))
		if k == "" {
			k = strings.ToLower(strings.ReplaceAll(dataKey(text(col, "column_name")), " ", "_"))
		}
		if k == "" {
			continue
		}
		d.set(k, col.values["string_value"])
		if _, isString := col.values["string_value"].(string); !isString {
			d.obj.values[k] = nil
			if s := text(col, "string_value"); s != "" {
				d.obj.values[k] = s
			}
		}
	}
	for _, m := range googleAdsMeta {
		d.meta("google-ads", m, obj.values[m])
	}
	d.deliveryID = text(obj, "lead_id")
	d.test, _ = obj.values["is_test"].(bool)
	if s, ok := obj.values["is_test"].(string); ok && strings.EqualFold(s, "true") {
		d.test = true
	}
	return d, nil
}
