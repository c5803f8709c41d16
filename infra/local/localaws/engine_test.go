package localaws

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestEngineProxyRewritesAccessKey(t *testing.T) {
	tests := []struct {
		name, accessKey, auth, want string
	}{
		{name: "rewritten", accessKey: "rlabc",
			auth: "AWS4-HMAC-SHA256 Credential=local/20261130/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00",
			want: "AWS4-HMAC-SHA256 Credential=rlabc/20261130/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"},
		{name: "kept without an AccessKey", accessKey: "",
			auth: "AWS4-HMAC-SHA256 Credential=local/20261130/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00",
			want: "AWS4-HMAC-SHA256 Credential=local/20261130/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Get("Authorization")
			}))
			defer engine.Close()
			p, err := NewEngineProxy(engine.URL, EngineOptions{AccessKey: tt.accessKey})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/", nil)
			req.Header.Set("Authorization", tt.auth)
			p.ServeHTTP(httptest.NewRecorder(), req)
			if got != tt.want {
				t.Errorf("Authorization at the engine = %q; want %q", got, tt.want)
			}
		})
	}
	if _, err := NewEngineProxy("127.0.0.1:8000", EngineOptions{}); err == nil {
		t.Errorf("NewEngineProxy(no scheme) = nil error; want an error")
	}
}

func TestReplayFilter(t *testing.T) {
	var f replayFilter
	calls := []struct {
		op, body string
		want     bool
	}{
		{"TransactWriteItems", `{"ClientRequestToken":"a"}`, true},
		{"TransactWriteItems", `{"ClientRequestToken":"a"}`, false},
		{"TransactWriteItems", `{"ClientRequestToken":"b"}`, true},
		{"TransactWriteItems", `{}`, true},
		{"TransactWriteItems", `{}`, true},
		{"PutItem", `{"ClientRequestToken":"a"}`, true},
	}
	for i, c := range calls {
		if got := f.first(c.op, []byte(c.body)); got != c.want {
			t.Errorf("call %d: first(%s, %s) = %v; want %v", i, c.op, c.body, got, c.want)
		}
	}
}
