// Package wire holds the wire formats of the HTTP API, apart from the domain: the strict
// JSON decoder, the ingest and management request bodies, base64 transport encoding, the
// list query, and the JSON forms of what the service answers and publishes (the View types:
// an entry, the table.entry.added detail, webhooks, schemas, kept requests); the domain
// types carry no JSON names. It knows nothing of API Gateway's event types, so the local
// tools and later body formats (forms) share it; package apigw maps events onto it.
//
// The JSON decoder is strict where encoding/json is lenient: a duplicate key, invalid
// UTF-8, a \u escape of a lone UTF-16 surrogate (which encoding/json silently turns into
// U+FFFD), data after the top-level value, or nesting deeper than 32 levels are each a 400
// with a path, never a silent pick or a 500. Numbers are kept as written and then
// canonicalised by lead.CanonicalNumber. Object keys keep their order, so details list
// problems in the order the sender wrote them.
//
// ParseIngest is the one entry point of every ingest body format (JSON, text/plain holding
// JSON, urlencoded and multipart forms with their list field names, a form body that is
// JSON): the API adapter calls it once the caller is authenticated, and hands the parsed
// lead to the domain. Base64 bodies are checked against the size limit from their encoded
// length before they are decoded (DecodeBody). ErrorJSON renders every error body, at most
// 16 KiB whatever the request.
package wire
