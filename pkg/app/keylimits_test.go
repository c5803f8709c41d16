package app_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/ddblocal"
)

// keyCase is a set of keys posted onto a pool that already holds the seed keys (none: an
// empty pool, so the first lock of the schema).
type keyCase struct {
	name string
	seed []string
	keys []string
	// refused is the specified 400's problem when the set is beyond the request limits;
	// empty: within the limits, so the answer must be a 201.
	refused string
}

// repeat returns n copies of s.
func repeat(s string, n int) string { return strings.Repeat(s, n) }

// numbered returns n keys: the prefix, the index, and filler up to size bytes (size 0: none).
func numbered(prefix string, n, size int, filler string) []string {
	out := make([]string, n)
	for i := range out {
		k := fmt.Sprintf("%s%d", prefix, i)
		for len(k)+len(filler) <= size {
			k += filler
		}
		for len(k) < size {
			k += "x"
		}
		out[i] = k
	}
	return out
}

// adversarialKeyCases are key sets shaped like the expressions that lock them: placeholder
// look-alikes, path syntax, NUL, long and many keys.
func adversarialKeyCases() []keyCase {
	var hashKs []string
	for _, n := range []int{1, 2, 3, 5, 8, 13, 20, 21, 22, 40, 64, 100, 200, 254, 255} {
		hashKs = append(hashKs, "#"+repeat("k", n))
		if n < 255 {
			hashKs = append(hashKs, "#"+repeat("k", n)+"0")
		}
	}
	lookalikes := []string{"#s", "#v", "#k0", "#k1", "#k2", "#k00", "#0", "#1", ":t0", ":t1", ":0", ":1", ":one", ":room", ":v", ":m",
		"#s.#k0", "#k0.#k1", "#k1.#k0", "#k0.#k0", "#s.#s", "#v.#s", "schema", "schemaVersion", "schema.#k0"}
	syntax := []string{".", "..", "a.b", ".a", "a.", "[0]", "a[0]", "a[0].b", "a[", "]", " ", "  x  ", "\x00", "a\x00b", "\x00\x00\x00",
		"#", ":", "$", `"`, `\`, "=", "(", ")", ",", "AND", "OR", "attribute_not_exists(pk)", "size", "SET", "ADD #v :one", "#s = :m",
		"\t", "\n", "é", "😀", "\u2028", "\ufeff"}
	key256 := func(prefix, filler string) string {
		k := prefix
		for len(k)+len(filler) <= 256 {
			k += filler
		}
		return k + repeat("x", 256-len(k))
	}
	long := []string{key256("#", "k"), key256("", "é"), key256("", "😀"), key256("#k0", "😀"), key256(":t", "0"), key256(".", "."), key256("", "\x00")}
	seeded := []string{"seed"}
	var cases []keyCase
	both := func(name string, keys []string) {
		cases = append(cases, keyCase{name: name + "/onto_empty", keys: keys}, keyCase{name: name + "/onto_locked", seed: seeded, keys: keys})
	}
	both("issue_10_keys_with_#k*200", append(numbered("f", 9, 0, ""), "#"+repeat("k", 200)))
	both("issue_60_keys_with_21_char_#k", append(numbered("f", 59, 0, ""), "#"+repeat("k", 20)))
	both("#k_of_many_lengths", hashKs)
	both("placeholder_lookalikes", lookalikes)
	both("path_and_expression_syntax", syntax)
	both("256_byte_keys_multibyte", long)
	both("100_keys_of_256_bytes", numbered("#k", 100, 256, "k"))
	both("101_keys", numbered("#k", 101, 0, ""))
	both("500_keys", numbered("#k", 500, 0, ""))
	both("500_keys_of_256_bytes", numbered("#", 500, 256, "k"))
	both("500_keys_of_256_bytes_multibyte", numbered("#k", 500, 256, "😀"))
	cases = append(cases,
		keyCase{name: "lookalikes_onto_lookalikes", seed: []string{"#k0", "#s", ":t0", "#k0.#k1"}, keys: []string{"#k1", "#v", ":t1", "#k1.#k0", "#s.#k0"}},
		keyCase{name: "syntax_onto_long_#k", seed: []string{key256("#", "k")}, keys: syntax},
		keyCase{name: "500_onto_500_keys_of_256_bytes_(schema_full)", seed: numbered("#", 500, 256, "k"), keys: numbered("#k", 500, 256, "😀")},
		keyCase{name: "beyond/501_keys", keys: numbered("#k", 501, 0, ""), refused: "too many keys"},
		keyCase{name: "beyond/257_byte_key", keys: []string{key256("#", "k") + "k"}, refused: "key longer than 256 bytes"},
		// 1,000 keys exactly is within the limits; one more key is beyond them.
		keyCase{name: "beyond/1001_schema_keys", seed: append(numbered("#", 500, 256, "k"), "one more"), keys: numbered("#k", 500, 0, ""), refused: "schema is full"},
	)
	return cases
}

// TestAdversarialKeySetsAreWrittenOrRefusedBeforeTheWrite posts every adversarial key set
// through the real ingest handler and store, on the engine the test pass uses (the embedded
// one, or DynamoDB Local, which enforces DynamoDB's expression limits): each is a 201 whose
// stored entry and schema read back as sent, or the specified 400 for a set beyond the request
// limits; never a 5xx.
func TestAdversarialKeySetsAreWrittenOrRefusedBeforeTheWrite(t *testing.T) {
	env := awstest.Start(t)
	engine := "embedded"
	if ddblocal.Endpoint() != "" {
		engine = "DynamoDB Local"
	}
	for _, c := range adversarialKeyCases() {
		t.Run(c.name, func(t *testing.T) {
			f := newFixtureOn(t, env, nil)
			want := map[string]string{}
			for seed := c.seed; len(seed) > 0; {
				// In POSTs of at most 500 keys, each within the limits.
				n := min(len(seed), 500)
				data := map[string]any{}
				for _, k := range seed[:n] {
					data[k] = "seed"
					want[k] = "string"
				}
				seed = seed[n:]
				if resp, _ := f.do(t, f.post(dataBody(t, data), f.token)); resp.StatusCode != http.StatusCreated {
					t.Fatalf("seed POST of %d keys: %d %s", n, resp.StatusCode, clip(resp.Body))
				}
			}
			data := map[string]any{}
			for i, k := range c.keys {
				if i%2 == 0 {
					data[k] = fmt.Sprintf("v%d", i)
					want[k] = "string"
				} else {
					data[k] = json.Number(fmt.Sprint(i))
					want[k] = "number"
				}
			}
			before := len(f.entries(t))
			start := time.Now()
			resp, got := f.do(t, f.post(dataBody(t, data), f.token))
			took := time.Since(start)
			if len(c.keys) >= 500 {
				t.Logf("%s: %d keys answered %d in %s on %s", c.name, len(c.keys), resp.StatusCode, took.Round(time.Millisecond), engine)
			}
			if c.refused != "" {
				if resp.StatusCode != http.StatusBadRequest || got["error"] != "Validation failed" || !strings.Contains(resp.Body, c.refused) {
					t.Fatalf("status %d %s; want the specified 400 naming %q", resp.StatusCode, clip(resp.Body), c.refused)
				}
				if n := len(f.entries(t)); n != before {
					t.Errorf("%d entries after the 400; want %d", n, before)
				}
				return
			}
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d %s; want 201: the set is within the request limits", resp.StatusCode, clip(resp.Body))
			}
			id, _ := got["id"].(string)
			var stored *map[string]any
			for _, e := range f.entries(t) {
				if e.ID == id {
					stored = &e.Data
				}
			}
			if stored == nil {
				t.Fatalf("entry %s of the 201 is not stored", id)
			}
			if !sameData(*stored, data) {
				t.Errorf("stored data differs from the data sent (%d keys stored, %d sent)", len(*stored), len(data))
			}
			if s := f.schema(t); !maps.Equal(s, want) {
				t.Errorf("schema of %d keys differs from the %d keys sent; missing or wrong: %v", len(s), len(want), schemaDiff(s, want))
			}
		})
	}
}

// dataBody renders {"data": data} as JSON (NUL and other controls escaped).
func dataBody(t testing.TB, data map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameData compares stored data with the data sent, numbers by their text.
func sameData(stored, sent map[string]any) bool {
	norm := func(m map[string]any) map[string]string {
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[k] = fmt.Sprint(v)
		}
		return out
	}
	return reflect.DeepEqual(norm(stored), norm(sent))
}

func schemaDiff(got, want map[string]string) []string {
	var out []string
	for k, t := range want {
		if got[k] != t {
			out = append(out, fmt.Sprintf("%q: %q, want %q", k, got[k], t))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%q: extra", k))
		}
	}
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("... %d more", len(out)-10))
	}
	return out
}

// clip shortens a response body for a failure message.
func clip(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}
