// Package wire holds the wire formats of the HTTP API, apart from the domain: the strict
// JSON decoder, the ingest and management request bodies, base64 transport encoding, the
// list query and the JSON rendering of an entry. It knows nothing of API Gateway's event
// types, so the local tools and later body formats (forms) share it; package apigw maps
// events onto it.
//
// The JSON decoder is strict where encoding/json is lenient: a duplicate key, invalid
// UTF-8, a \u escape of a lone UTF-16 surrogate (which encoding/json silently turns into
// U+FFFD), data after the top-level value, or nesting deeper than 32 levels are each a 400
// with a path, never a silent pick or a 500. Numbers are kept as written and then
// canonicalised by lead.CanonicalNumber. Object keys keep their order, so details list
// problems in the order the sender wrote them.
//
// JSONPayload implements lead.Payload: it decodes nothing until the ingest service asks,
// which the service does only after authenticating the caller. Base64 bodies are checked
// against the size limit from their encoded length before they are decoded.
package wire
