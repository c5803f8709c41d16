// Package apigw maps API Gateway HTTP API (payload format 2.0) events to the lead services
// and their results back to responses. Handlers are translation only: read the request
// (headers case-insensitively, since HTTP APIs lower-case them and other callers may not;
// the body through package wire), make one service call, map the error code to a status
// through the one table in Status, render the response. An expected failure is a response
// with a nil error, since a non-nil error becomes a bare 502 for the caller.
//
// The token header is read here: missing, repeated or comma-joined is a 401 before
// anything else. A bad Idempotency-Key header travels to the service in the command and is
// reported only after the caller is authenticated. Error bodies never carry SDK messages,
// tokens or lead data; a response that cannot be rendered is a 500 logged as an error.
// Each request writes one structured log line: request id, route, status, outcome,
// latency and, when well formed, the webhook id; never headers, tokens, bodies or query
// strings.
package apigw
