// Package dynamo stores webhooks, pools, lead states, custom fields, entries and
// idempotency records in one DynamoDB table, and decodes the table's stream images into
// entries (the entry-events function's handler, in package entryevents, publishes them).
// It implements the store interfaces of package lead and is
// written for real DynamoDB: its 4 KB expression limit, 400 KB items, 38-digit numbers and
// its failure modes; emulator quirks it tolerates are named where they are.
//
// # Item layout
//
// Keys are the strings pk and sk:
//
//	webhook              WEBHOOK#<id>             WEBHOOK
//	pool                 TABLE#<poolId>           TABLE
//	lead state           TABLE#<poolId>           LEADSTATE#<id>
//	entry                TABLE#<poolId>#<shard>   ENTRY#<uuidv7>
//	fence                TABLE#<poolId>#<shard>   ENTRY#<uuidv7>         (type FenceType)
//	custom field         ORG#<orgId>              CUSTOMFIELD#<id>
//	idempotency record   IDEMPOTENCY#<id>#<hash>  IDEMPOTENCY
//	rejected request     WEBHOOK#<id>             REJECTED#<uuidv7>
//	fence                WEBHOOK#<id>             REJECTED#<uuidv7>      (type FenceType)
//	rejected day count   WEBHOOK#<id>             REJECTCOUNT#<yyyy-mm-dd>
//	tombstone            the key of a deleted item                     (type DeletedType)
//
// A pool's entries are spread over EntryShards partition keys, so one pool can take more
// writes than DynamoDB allows one key (1,000 WCU/s): the shard (two digits, 00 to 31) is the
// entry id's last random byte modulo 32, so an entry's key follows from its pool and id
// alone. Reading a pool's entries is a Query per shard merged in id order (Entries).
//
// An idempotency record has a partition of its own (so idempotent leads are not capped by
// one webhook key's writes) named by the webhook id and the SHA-256 of the caller's key
// (base64url), and holds only the content's fingerprint, the entry id, the SHA-256 of the
// first answer, createdAt and expiresAt: under 300 bytes whatever the lead. Its put, in the entry's transaction, asks for the old record
// on a failed condition (ReturnValuesOnConditionCheckFailure ALL_OLD), so a repeat learns the
// first request's entry without reading the record; the store reads it only when the engine
// did not return it (the embedded one does not).
//
// The TABLE# prefix and the tableId attribute carry the API's name for a pool id. The index
// gsi1 lists an organization's webhooks in creation order. Idempotency records expire
// through the table's TTL attribute (expiresAt); expiry is also compared in code, since TTL
// deletion is late and emulators never do it.
//
// # Versions and tombstones
//
// Every mutable item (webhook, pool, lead state, custom field, rejected request) carries a
// numeric version attribute: a create writes 1 on condition that the key is free
// (attribute_not_exists(pk)), and every update and delete reads the item, is conditional on
// the version it read and writes the next one. A pool's lead state changes use version; its
// schema keeps its own schemaVersion (entry writes lock keys on it without conflicting with
// an administrator's lead state changes). A delete does not remove the item: it puts a
// tombstone at the same key (DeletedType, version+1, deletedAt and expiresAt a day later,
// nothing else; a webhook's moves to a gsi1 partition of its own, deleted#<pk>, so it is
// not listed) that every read treats as not found and that a create's condition refuses.
// Items written before versions have none, which reads as 0 (the condition is then that the
// attribute does not exist). Entries and idempotency records are immutable and carry no
// version. So a write that reaches DynamoDB late (after its caller was answered, and maybe
// after a later change) can change nothing: its condition names a version that is gone.
//
// A rejected request (a body refused with a 400 after authentication) is kept with its
// counter of the UTC day in one TransactWriteItems: the counter grows only below the daily
// maximum and the request is kept only when counted. Both expire through expiresAt (the
// request after the retention, the counter a day after its day). A replay writes the entry
// and puts the rejected request's tombstone in one transaction, conditional on the version
// read, so a keep of the same request that arrives after the replay is refused.
//
// # Reads
//
// The webhook read is strongly consistent, so a rotation or a delete bites at once. The
// ingest read of the pool and the organization's custom fields is one BatchGetItem
// (PoolWithFields). Every decoder reports a missing or malformed attribute as an error
// naming it; nothing is read as a silent zero value.
//
// # Schema lock and entry write
//
// An entry that locks no new key and carries no idempotency key is one conditional PutItem.
// Otherwise it is one TransactWriteItems: the schema update, the entry and the idempotency
// record commit together or not at all. Every write of the schema adds one to the pool's
// schemaVersion attribute, and the schema update is conditional:
//
//   - up to 100 new keys onto a schema that has keys, each key is its own nested SET with
//     attribute_not_exists, so requests adding different keys do not conflict, and the
//     schema must have room for them (size), so concurrent requests never push it past
//     1,000 keys;
//   - otherwise (the first lock of a pool, more keys, or keys whose per-key form would not
//     fit DynamoDB's limits or would name one of its placeholders) the merged map is
//     written on condition that schemaVersion is still the one read. A version, not the
//     size: an administrator's unlock can make a schema shrink and grow back to the same
//     size with other types.
//
// Placeholders have a fixed size (#s, #v, #k<i>, :t<i>): a key's text is only ever a
// placeholder's value or a map key inside a value. Before the write, the expressions,
// names and values are checked against DynamoDB's limits (4 KB per expression, 255 bytes
// per placeholder, 2 MB of substitutions, 300 operators) and the schema map against the
// pool item (400 KB less a reserve for its other attributes); a set of keys that cannot be
// locked in one write is a 400, never a request DynamoDB refuses with a 500.
//
// Schema administration (ReplaceSchema) writes the whole map on the same version
// condition; the map is an attribute value, bounded by the item size, not the expression
// limit.
//
// A failed schema condition is lead.ErrSchemaChanged, a taken idempotency key
// lead.ErrIdempotencyKeyTaken, and a failed condition on the entry itself means an earlier
// attempt of this very write committed: success. Item sizes are checked before writing
// (ItemSize), since not every engine enforces DynamoDB's 400 KB.
//
// # Durable writes
//
// One file, durable.go, owns what makes a failure the store answers true, for every write:
// retry, settlement, the fence and the version conditions, within one budget
// (lead.RequestBudget and the settle time derived from it).
//
//   - Retry: every call goes through retrying. A call DynamoDB refused without applying it
//     (throttling, a transaction conflict) is tried again with jittered backoff until the
//     settle reserve of the request's deadline, then answered 503 (nothing stored); a read
//     that got no answer is tried again a few times. Writes run on a context detached from
//     the caller's cancellation.
//   - Settlement: a write whose attempt may have been applied without its answer reaching
//     the store (no answer, a server fault, or a failed condition after such an attempt;
//     the SDK's attempts are recorded by a client option) is settled by reading its key back
//     with a consistent read: the item there says applied (a success), overtaken (not
//     applied, never will be) or pending (the same write is tried again: its attempts carry
//     the same condition and content, so they apply at most once). A new item (an entry, a
//     kept rejected request) is applied when it is at its key, overtaken when a fence is; a
//     versioned write is applied at the next version with its content, pending at the
//     version read, overtaken at any other.
//   - Fence: when the store gives up after such an attempt, it writes the fence before the
//     failure is answered, on the write's own condition, so that a write still on its way
//     is refused when it lands: a fence item (FenceType, pk, sk, fencedAt and expiresAt,
//     under 200 bytes, deleted by the TTL after FenceTTL) at a new item's key, a tombstone
//     for a create, the next version and nothing else for an update or delete. A failed
//     fence is settled by the item at the key (ALL_OLD on a failed condition, or read back):
//     the write applied after all is a success. The fence is tried with short pauses until
//     the settle time: lead.SettleBy, the function's deadline less lead.AnswerMargin, which
//     the HTTP functions' observer sets (without it, as the observer would set it for the
//     context's deadline). No write starts with less than SettleTimeout of it left (503).
//   - Unsettled: a fence that cannot be settled in that time is the one failure that is not
//     "nothing stored": 500 "Outcome unknown" with "unsettled": true (lead.Unsettled naming
//     the entry for an entry write, lead.ErrRejectedUnsettled for a kept request,
//     lead.UnsettledWrite for a management write), counted in UnsettledWrites.
//
// A fence is not an entry: Entry, Entries and the entry-events handler skip it
// (IsEntryInsert), Rejected and ListRejected skip a kept request's, and the template's
// stream filter drops it (type anything-but FenceType). The idempotency record commits with
// the entry, so a fenced write leaves the caller's key free. A write DynamoDB refused
// outright on every attempt (nothing applied, nothing on its way) needs no fence.
//
// # Stream images
//
// The committed entry item is the outbox. A stream record's new image converts exactly to
// the store's item (ItemFromImage: numbers stay decimal strings), and an entry insert
// (IsEntryInsert) decodes with the store's own decoder (EntryFromRecord), so the event's
// entry renders as the 201 body did. The entry-events function's handler (package
// entryevents) publishes the events and reports the records the bus did not accept.
package dynamo
