package captcha

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

func TestVerifyCaptchaAgainstTheStandIn(t *testing.T) {
	srv := httptest.NewServer(StandIn())
	defer srv.Close()
	v := New(srv.URL)
	c := &lead.Captcha{Provider: lead.Turnstile, Secret: "1x0000000000000000000000000000000AA"}
	for _, tc := range []struct {
		response string
		want     bool
	}{{TestToken, true}, {"forged", false}} {
		got, err := v.VerifyCaptcha(context.Background(), c, tc.response, "203.0.113.7")
		if err != nil || got.Success != tc.want {
			t.Errorf("VerifyCaptcha(%q) = %+v, %v; want success %v", tc.response, got, err, tc.want)
		}
	}
	if got, _ := v.VerifyCaptcha(context.Background(), c, TestToken, ""); !got.Scored || got.Score != 0.9 {
		t.Errorf("VerifyCaptcha score = %+v; want scored 0.9", got)
	}
}

func TestVerifyCaptchaUnreachableIsAnError(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer down.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	c := &lead.Captcha{Provider: lead.HCaptcha, Secret: "s"}
	for name, url := range map[string]string{"5xx": down.URL, "closed": closed.URL} {
		if _, err := New(url).VerifyCaptcha(context.Background(), c, TestToken, ""); err == nil {
			t.Errorf("VerifyCaptcha(%s) = nil error; want one", name)
		}
	}
}
