// Package apigw maps API Gateway HTTP API (payload format 2.0) events to the lead services
// and their results back to responses. Handlers are translation only: read the request
// (headers case-insensitively, since HTTP APIs lower-case them and other callers may not;
// the body through package wire), make one service call, map the error code to a status
// through the one table in Status, render the response. An expected failure is a response
// with a nil error, since a non-nil error becomes a bare 502 for the caller.
//
// The public ingest handler follows the order of checks one step after the other: the token (missing,
// repeated or comma-joined is a 401 before anything else), authentication by the service,
// the body's size, its media type and encoding, the Idempotency-Key and dryRun, the parse
// (wire.ParseIngest), the service's ingest, the answer. A 400 from the parse on is kept as
// a rejected request with the error body rendered here. The domain never calls back into
// this package or into wire.
//
// Error bodies never carry SDK messages, tokens or lead data; a response that cannot be
// rendered is a 500 logged as an error. Every handler returns its Outcome as a value beside
// the response; Observe turns it into one JSON line that is both the request's log line
// (request id, status, outcome, latency and, when well formed, the webhook id; never
// headers, tokens, bodies or query strings) and its EMF document.
package apigw
