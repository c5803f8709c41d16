// Package eventbus publishes the service's domain events to Amazon EventBridge with
// PutEvents: in batches within the API's limits (ten entries and 256 KB per request), with
// partial failures (FailedEntryCount) reported per event as failures, never as successes,
// and with an event too large for the bus replaced by a reference to its entry (the ids,
// the trigger and "truncated": true), so consumers read the entry itself.
package eventbus
