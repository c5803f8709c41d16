// Package lead is the domain of RocketLead ingress webhooks: webhooks, lead pools and their
// schemas, lead states, custom fields, lead entries, tokens, validation and the services
// that act on them (IngestService, WebhookAdmin, Catalog). It imports nothing of the outside
// world (no AWS, no HTTP, no JSON codec): adapters in sibling packages implement the store
// interfaces declared here and translate requests into the commands the services take.
//
// # Glossary
//
// The code, the logs, the metrics and the docs use these words in these senses only:
//
//   - Lead pool (Pool): a table of lead entries with its schema and lead states. The API and
//     the event call it a "table" (tableId, TABLE# keys, table.entry.added); the code says pool.
//   - Webhook: the URL and secret token through which one sender posts into one pool.
//   - Entry: one stored lead, created by one accepted POST (or one replay). Entries are
//     never updated.
//   - Schema: a pool's map from data key to locked type. Lock: the first accepted value of a
//     key fixes its type. Set and unlock: the operator's repairs of a schema.
//   - Refused: answered with a 4xx. Rejected request (kept request): a body refused with a
//     400 after authentication and kept for the operator, who can replay or discard it; a
//     401, 404, 413, 415, 422 or 429 is refused but never kept. Discard: removing a kept
//     request (DiscardRejected; the route is DELETE .../rejected/{id}).
//   - Replay: sending a kept request through ingest again; an idempotent replay is the
//     answer to a repeated Idempotency-Key, rebuilt from the first entry.
//   - Fence: the small item the store writes at an entry's key when it gives up on the
//     entry's write, so that a write still on its way is refused when it lands.
//   - Version: the counter every mutable item carries; updates and deletes are conditional
//     on the version they read. Tombstone: what a delete leaves at the item's key for a day,
//     read as not found, so that a late create cannot bring the item back.
//   - Settled: a write whose outcome the store knows (committed or not). Unsettled: one it
//     could not learn within the function's time, answered as "Outcome unknown".
//
// # Ingesting an entry
//
// An ingest request is checked in a fixed order, and the first failure wins:
//
//  1. the token is well formed (64 hex characters), else EUNAUTHORIZED;
//  2. the webhook id is a UUID and the webhook exists, else ENOTFOUND;
//  3. the token matches the stored HMAC-SHA256 hash (or, during a rotation grace period,
//     the previous one), compared in constant time, else EUNAUTHORIZED;
//  4. the body is within Limits.MaxBodyBytes after its transport encoding is undone, else
//     ETOOLARGE; a broken transport encoding is EINVALID; a media type or encoding the
//     endpoint does not read is EUNSUPPORTED;
//  5. the Idempotency-Key, when sent, is acceptable, and dryRun is true or false (EINVALID);
//     a live record for the key answers a repeat (the first entry for the same content,
//     EKEYREUSED for other content);
//  6. the body decodes into data and customFieldData values of the accepted shapes
//     (EINVALID with details);
//  7. customFieldData names custom fields of the webhook's organization, with values of
//     each field's own type (EINVALID);
//  8. data agrees with the pool schema, after the documented coercions (EINVALID with
//     typeErrors), and the schema stays within Limits.MaxSchemaKeys;
//  9. the pool has a default lead state that still exists (ENOLEADSTATE).
//
// Steps 1–3 are Authenticate; the API adapter then checks the body's size, its media type
// and the headers, parses the body (package wire) and hands the parsed lead to Ingest,
// which runs steps 7–9 and the write. Nothing about the body is read before the caller is
// authenticated, so an unauthenticated caller learns nothing about the pool, its schema or
// its custom fields. The domain never calls back into the adapter: a refused request is
// kept by the adapter through NewRejected and Keep, with the error body it rendered.
//
// # Schema lock
//
// The first accepted entry that carries a data key locks that key's type for the pool,
// forever. The service computes the new keys against the schema it read and hands them to
// IngestStore.PutEntry, which must commit the entry and the lock atomically and only if
// none of the new keys was locked meanwhile; when it was, PutEntry returns
// ErrSchemaChanged, nothing is written, and the service re-reads the pool and checks again.
// Each lost race means another request locked a key, so the schema only grows towards a
// fixpoint; the service still gives up after a bounded number of attempts. The entry id is
// fixed before the first attempt, so a retried write that finds its own entry is a success.
//
// # Values and numbers
//
// Data values are string, Number, bool, []string or nil. A Number is kept as the exact
// decimal a sender wrote, in the canonical form DynamoDB itself returns (no exponent, no
// redundant zeros, at most 38 significant digits, magnitude within DynamoDB's range), so
// the 201 body, the stored item and the event agree digit for digit; anything DynamoDB
// would have to round is rejected instead. The only coercions are a numeric string into a
// number key, "true"/"false" (any case) into a boolean key, one string into a string[]
// key, and "" into a number or boolean key as null.
//
// # Ids and errors
//
// Webhook, pool, lead state and custom field ids are random UUIDv4 (NewID): a webhook id is
// part of a public URL and must reveal nothing. Entry ids are UUIDv7 (NewEntryID), so entry
// sort keys follow creation time. Every expected failure is an *Error with a Code; the API
// adapter maps each code to one HTTP status, and anything without a code is an internal
// error whose text never reaches a caller.
package lead
