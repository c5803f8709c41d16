package wire_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// FuzzParseSourced: whatever a vendor (or anyone with its secret) sends, each source's
// parser answers with a parsed lead or a coded 400/415, never a panic or an uncoded error,
// and the lead's values are of the shapes a schema knows.
func FuzzParseSourced(f *testing.F) {
	names := wire.SourceRules{}.Names()
	index := map[string]uint8{}
	for i, n := range names {
		index[n] = uint8(i)
	}
	for _, c := range sourceCases() {
		raw, err := vendorsFixture(c.file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(index[c.source], raw)
	}
	f.Add(index["typeform"], []byte(`{"form_response":{"answers":[{"type":"choices","field":{"ref":"x"}}]}}`))
	f.Add(index["tally"], []byte(`{"data":{"fields":[{"label":"a","type":"CHECKBOXES","value":[{"url":1},"x",null]}]}}`))
	f.Add(index["webflow"], []byte(`{"payload":{"data":{"a":{"b":1},"c":[1,"d"]}}}`))
	f.Fuzz(func(t *testing.T, n uint8, raw []byte) {
		source := names[int(n)%len(names)]
		ct := "application/json"
		switch source {
		case "jotform":
			ct = "multipart/form-data; boundary=------JotformBoundary7MA4YWxkTrZu0gW"
		case "unbounce":
			ct = "application/x-www-form-urlencoded"
		}
		got, err := wire.ParseSourced(source, wire.SourceRequest{Header: headers(nil), ContentType: ct, Raw: raw, Now: time.Now()}, nil, lead.DefaultLimits())
		if err != nil {
			var e *lead.Error
			if !errors.As(err, &e) || (e.Code != lead.EINVALID && e.Code != lead.EUNSUPPORTED) {
				t.Fatalf("ParseSourced(%s) = %v; want a coded 400 or 415", source, err)
			}
			return
		}
		for k, v := range got.Body.Data {
			switch v.(type) {
			case nil, string, bool, lead.Number, []string:
			default:
				t.Fatalf("data[%q] is a %T", k, v)
			}
		}
	})
}
