package apigw

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// Headers of public HTML forms and CORS.
const (
	OriginHeader  = "origin"
	RefererHeader = "referer"
	AcceptHeader  = "accept"
)

// corsAllowHeaders are the request headers a listed origin's fetch() may send.
const corsAllowHeaders = "content-type, x-rocketlead-ingress-token, idempotency-key"

// requestOrigin is the request's browser origin: Origin, or without it Referer's origin.
func requestOrigin(req Request) string {
	o, _ := Header(req, OriginHeader)
	ref, _ := Header(req, RefererHeader)
	return lead.RequestOrigin(o, ref)
}

// checkOrigin is step 3a of the order of checks, right after authentication: a webhook that lists
// origins refuses a browser request from another one (403, nothing kept).
func checkOrigin(wh *lead.Webhook, req Request) error {
	return wh.Form.CheckOrigin(requestOrigin(req))
}

// preflight answers a CORS preflight (OPTIONS) on the webhook's URL: 204, with the CORS
// headers only for an origin the webhook lists, so a browser lets a page's fetch() post
// JSON with the token header from there and nowhere else.
func (h ingestEndpoint) preflight(ctx context.Context, req Request) (Response, Outcome) {
	out := Outcome{Attrs: webhookAttr(req.PathParameters["id"])}
	form, err := h.svc.FormSettings(ctx, req.PathParameters["id"])
	if err != nil {
		resp := ErrorResponse(err, RequestID(req))
		out.Status, out.Err = resp.StatusCode, err
		return resp, out
	}
	resp := Response{StatusCode: http.StatusNoContent, Headers: map[string]string{"Cache-Control": "no-store", "Vary": "Origin"}}
	if o, _ := Header(req, OriginHeader); form.ListsOrigin(strings.ToLower(o)) {
		resp.Headers["Access-Control-Allow-Origin"] = strings.ToLower(o)
		resp.Headers["Access-Control-Allow-Methods"] = "POST"
		resp.Headers["Access-Control-Allow-Headers"] = corsAllowHeaders
		resp.Headers["Access-Control-Max-Age"] = "600"
	}
	out.Status = resp.StatusCode
	return resp, out
}

// forBrowser adapts an ingest answer for a person at a browser: CORS headers
// for a listed origin; after a form post (never a JSON body, never a dry run) a 201 or
// 400 becomes a 303 to the webhook's success or error page, or, without a success URL and
// with Accept preferring HTML, the built-in page with the same status.
func forBrowser(req Request, wh *lead.Webhook, hd ingestHeaders, resp Response, res *lead.IngestResult, err error) Response {
	var form *lead.FormSettings
	if wh != nil {
		form = wh.Form
	}
	if !hd.dryRun && wire.IsFormMedia(hd.contentType) {
		switch {
		case form != nil && form.SuccessURL != "" && (resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusBadRequest):
			resp = redirect(form, res, err)
		case prefersHTML(req):
			resp = htmlPage(resp, err)
		}
	}
	if o := requestOrigin(req); form.ListsOrigin(o) {
		resp.Headers["Access-Control-Allow-Origin"] = o
		resp.Headers["Vary"] = "Origin"
	}
	return resp
}

// redirect is the 303 of a form post: to the success URL with entryId, or to the error URL
// (the success URL without one) with error and, when kept, rejectedId.
func redirect(form *lead.FormSettings, res *lead.IngestResult, err error) Response {
	target, q := form.SuccessURL, url.Values{}
	if err != nil {
		if form.ErrorURL != "" {
			target = form.ErrorURL
		}
		q.Set("error", wire.ErrorCodeOf(err))
		if id := lead.RejectedID(err); id != "" {
			q.Set("rejectedId", id)
		}
	} else {
		q.Set("entryId", res.Entry.ID)
	}
	u, perr := url.Parse(target)
	if perr != nil {
		// Stored URLs were validated; this cannot happen, and the browser still gets home.
		u = &url.URL{Path: "/"}
	}
	query := u.Query()
	for k, v := range q {
		query[k] = v
	}
	u.RawQuery = query.Encode()
	return Response{StatusCode: http.StatusSeeOther, Headers: map[string]string{
		"Location": u.String(), "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
	}}
}

// htmlPage is the built-in page for the answer, with its status and Retry-After.
func htmlPage(resp Response, err error) Response {
	page := Response{StatusCode: resp.StatusCode, Body: string(wire.FormPage(resp.StatusCode, err)), Headers: map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": wire.FormPageCSP,
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	}}
	if ra, ok := resp.Headers["Retry-After"]; ok {
		page.Headers["Retry-After"] = ra
	}
	return page
}

// prefersHTML reports whether the request's Accept header ranks text/html above JSON, as
// browsers send it; Zapier, Make, n8n and curl do not.
func prefersHTML(req Request) bool {
	accept, _ := Header(req, AcceptHeader)
	return acceptQ(accept, "text/html") > acceptQ(accept, "application/json")
}

// acceptQ is the quality an Accept header gives a media type: that of its most specific
// matching range (type/subtype, type/*, */*), 0 when none matches.
func acceptQ(accept, media string) float64 {
	typ, _, _ := strings.Cut(media, "/")
	best, spec := 0.0, -1
	for _, r := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(r))
		if err != nil {
			continue
		}
		s := -1
		switch mt {
		case media:
			s = 2
		case typ + "/*":
			s = 1
		case "*/*":
			s = 0
		}
		if s < spec || s < 0 {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		best, spec = q, s
	}
	return best
}
