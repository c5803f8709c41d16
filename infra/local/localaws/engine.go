package localaws

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"time"
)

// EngineOptions configures NewEngineProxy.
type EngineOptions struct {
	// AccessKey, when set, replaces the access key id of every request's SigV4 Authorization
	// header. DynamoDB Local keeps one database per access key and region and does not check
	// signatures, so every client of one Server, whatever its credentials, shares one
	// database of its own.
	AccessKey string
}

// credentialKey matches the access key id in a SigV4 Authorization header.
var credentialKey = regexp.MustCompile(`Credential=[^/,\s]*/`)

// NewEngineProxy returns a DynamoDB engine (Options.DynamoDB) that forwards every request
// to an external DynamoDB endpoint such as DynamoDB Local.
func NewEngineProxy(endpoint string, opts EngineOptions) (http.Handler, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("parse dynamodb endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("dynamodb endpoint %q: want http(s)://host:port", endpoint)
	}
	repl := "Credential=" + opts.AccessKey + "/"
	p := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Host = pr.In.Host // DynamoDB Local ignores it; keep what was signed
		if a := pr.Out.Header.Get("Authorization"); a != "" && opts.AccessKey != "" {
			pr.Out.Header.Set("Authorization", credentialKey.ReplaceAllLiteralString(a, repl))
		}
	}}
	p.Transport = &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	p.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// An unreachable engine is a server-side failure the SDK retries, as a 500 from DynamoDB.
		writeAWSError(w, dynamoDBContentType, http.StatusInternalServerError, "InternalServerError",
			fmt.Sprintf("dynamodb engine %s: %v", u.Host, err))
	}
	return p, nil
}
