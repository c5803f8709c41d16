// Package ops groups the operator tooling; it has no code of its own. rlctl, the operator
// CLI, runs on an operator's machine against AWS or against the local runner.
package ops
