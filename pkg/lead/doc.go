// Package lead is the domain of RocketLead ingress webhooks: webhooks, lead pools and their
// schemas, lead states, custom fields, lead entries, tokens, validation and the services
// that act on them (IngestService, WebhookAdmin, Catalog). It imports nothing of the outside
// world (no AWS, no HTTP, no JSON codec): adapters in sibling packages implement the store
// interfaces declared here and translate requests into the commands the services take.
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
