// Package dynamo stores webhooks, pools, lead states, custom fields, entries and
// idempotency records in one DynamoDB table, and turns the table's stream into
// table.entry.added events. It implements the store interfaces of package lead and is
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
//	fence                TABLE#<poolId>#<shard>   ENTRY#<uuidv7>         (type "fence")
//	custom field         ORG#<orgId>              CUSTOMFIELD#<id>
//	idempotency record   IDEMPOTENCY#<id>#<hash>  IDEMPOTENCY
//	rejected request     WEBHOOK#<id>             REJECTED#<uuidv7>
//	fence                WEBHOOK#<id>             REJECTED#<uuidv7>      (type "fence")
//	rejected day count   WEBHOOK#<id>             REJECTCOUNT#<yyyy-mm-dd>
//	tombstone            the key of a deleted item                     (type "deleted")
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
// tombstone at the same key (type "deleted", version+1, deletedAt and expiresAt a day
// later, nothing else; a webhook's moves to a gsi1 partition of its own, deleted#<pk>, so
// it is not listed) that every read treats as not found and that a create's condition
// refuses. Items written before versions
// have none, which reads as 0 (the condition is then that the attribute does not exist).
//
// So a write that reaches DynamoDB late (after its caller was answered, and maybe after a
// later change) can change nothing: its condition names a version that is gone. And the
// item read back settles a write whose answer was lost: at the next version with this
// write's content it is applied (by this write or an earlier attempt of it, which carries
// the same condition), still at the version read it is not applied yet, at any other
// version never. A management write the store gives up on is fenced before its failure is
// answered: the next version and nothing else (a tombstone for a create) is written on the
// same condition, so the write can never land later; the fence and read-backs are tried
// until the request's deadline plus SettleTimeout, and the item read back settles any of
// them. Entries and idempotency records are immutable and carry no version.
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
// A write whose outcome is unknown is settled by reading the entry back. When the store gives
// up on an entry write, it first fences the entry's key: a fence item (type "fence", pk, sk,
// fencedAt and expiresAt, under 200 bytes, deleted by the TTL after FenceTTL) is put at
// exactly the entry's key on condition that the key is free, and since every write of the
// entry carries the same condition, a write still on its way is refused when it lands: the
// failure is true. A failed fence condition returns the item at the key (ALL_OLD): the entry
// is a success. A fence is not an entry: Entry, Entries and the stream handler skip it, and
// the template's stream filter drops it (type anything-but "fence"). The idempotency record
// commits with the entry, so a fenced write leaves the caller's key free. The fence is tried
// until it settles or the function's time (lead.SettleBy: its deadline less the answer
// margin) runs out, not only the request's; a write DynamoDB refused outright on every
// attempt (nothing applied, nothing on its way) needs none. A fence that cannot be settled
// is the one failure that is not "nothing stored": lead.Unsettled, the 500 "Outcome unknown"
// naming the entry, counted in UnsettledWrites. Keeping a rejected request is settled the
// same way, with a fence at the request's key (Rejected and ListRejected skip it), so
// KeepRejected's failure means "not kept", or is lead.ErrRejectedUnsettled.
//
// A failed schema condition is lead.ErrSchemaChanged, a taken idempotency key
// lead.ErrIdempotencyKeyTaken, and a failed condition on the entry itself means an earlier
// attempt of this very write committed: success. Item sizes are checked before writing
// (ItemSize), since not every engine enforces DynamoDB's 400 KB.
//
// # Events
//
// The committed entry item is the outbox. The stream handler (filtered to new ENTRY#
// items) decodes each record's new image exactly (numbers stay decimal strings), publishes
// the events in batches and reports only the records whose event the bus did not accept,
// so Lambda retries those alone and then sends them to the on-failure destination.
package dynamo
