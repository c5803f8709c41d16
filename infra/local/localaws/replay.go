package localaws

import (
	"encoding/json"
	"sync"
	"time"
)

// tokenWindow is how long DynamoDB remembers a TransactWriteItems ClientRequestToken: a
// repeat within it is answered as a success without writing anything again.
const tokenWindow = 10 * time.Minute

// replayFilter tells a committed TransactWriteItems from the idempotent replay of one (same
// ClientRequestToken, as the SDK sends when it retries): DynamoDB Local, like DynamoDB,
// answers the replay with 200 but writes nothing and emits no stream record, so the write
// observers must not see it twice. The zero value is ready to use.
type replayFilter struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// first reports whether a successful op with this request body is a new commit, recording
// its token.
func (f *replayFilter) first(op string, body []byte) bool {
	if op != "TransactWriteItems" {
		return true
	}
	var in struct {
		ClientRequestToken string `json:"ClientRequestToken"`
	}
	if json.Unmarshal(body, &in) != nil || in.ClientRequestToken == "" {
		return true
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = make(map[string]time.Time)
	}
	for tok, at := range f.seen {
		if now.Sub(at) > tokenWindow {
			delete(f.seen, tok)
		}
	}
	if _, ok := f.seen[in.ClientRequestToken]; ok {
		return false
	}
	f.seen[in.ClientRequestToken] = now
	return true
}
