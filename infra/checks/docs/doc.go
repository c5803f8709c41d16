// Package docs holds the tests that keep the documentation true: every README shell example
// marked `<!-- doc-test: name -->` runs, in order, against a fresh local runner, and its
// shown answer is compared with the real one; every section heading is reachable from the
// README's contents; every link to a heading or a file of the repository resolves; and the
// README stays within its length.
//
// A marked example is a ```sh block right after the marker; the block that follows it (```
// without a language) is its answer. Answers are compared item by item: each status line,
// each header the answer shows (other headers are ignored), each JSON value (parsed, so
// layout does not matter; an object must have the same keys unless it shows the key "…"),
// and each other line (runs of white space count as one). A "…" stands for what differs
// between runs, such as ids and times: as a JSON value it matches any value, inside a string
// or a line any text.
package docs
