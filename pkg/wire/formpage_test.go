package wire

import (
	"bytes"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

func TestWithoutFieldsDropsTheNamedFormFields(t *testing.T) {
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	for _, f := range [][2]string{{"name", "Zoë — 東京"}, {"cf-turnstile-response", "XXXX"}, {"_gotcha", ""}, {"email", "a@b.co"}} {
		_ = w.WriteField(f[0], f[1])
	}
	_ = w.Close()
	tests := []struct {
		name, contentType, body string
		gone, kept              []string
	}{
		{"urlencoded", MediaURLEncoded, "name=Zo%C3%AB&cf-turnstile-response=XXXX&_got%63ha=&email=a%40b.co", []string{"turnstile", "_got"}, []string{"name=Zo%C3%AB", "email=a%40b.co"}},
		{"multipart", w.FormDataContentType(), mp.String(), []string{"turnstile", "_gotcha"}, []string{"Zoë — 東京", "a@b.co"}},
		{"JSON is left as received", MediaJSON, `{"data":{"_gotcha":""}}`, nil, []string{`"_gotcha"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(WithoutFields(tt.contentType, []byte(tt.body), "cf-turnstile-response", "_gotcha"))
			for _, s := range tt.gone {
				if strings.Contains(got, s) {
					t.Errorf("WithoutFields = %q; still holds %q", got, s)
				}
			}
			for _, s := range tt.kept {
				if !strings.Contains(got, s) {
					t.Errorf("WithoutFields = %q; lost %q", got, s)
				}
			}
			if tt.contentType != MediaJSON {
				body, err := ParseIngest(tt.contentType, []byte(got), lead.DefaultLimits())
				if err != nil || len(body.Data) != 2 {
					t.Errorf("ParseIngest(kept body) = %+v, %v; want the two other fields", body, err)
				}
			}
		})
	}
}
