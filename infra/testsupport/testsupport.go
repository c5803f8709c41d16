// Package testsupport holds the helpers the tests under infra/ share; it runs only inside
// `go test` (on a developer machine or in CI), never in Lambda or in the local runner.
// Subpackage awstest starts the local AWS endpoints for a test.
package testsupport

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is an io.Writer safe for concurrent use, collecting what a process or a
// goroutine writes while the test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// makeEnvDropped are the variables an outer make or build sets that would change what a
// nested `make` builds: its jobserver and flags, the target platform, and the Makefile's own
// inputs (ARTIFACTS_DIR, PKG).
var makeEnvDropped = []string{"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "GOOS", "GOARCH", "CGO_ENABLED", "ARTIFACTS_DIR", "PKG"}

// CleanMakeEnv returns this process's environment without the variables that would leak an
// outer make's jobserver, flags or build settings into a `make` the test runs, so the nested
// make behaves as it does from a fresh shell.
func CleanMakeEnv() []string {
	return cleanEnv(os.Environ())
}

func cleanEnv(environ []string) []string {
	var env []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(makeEnvDropped, name) {
			env = append(env, kv)
		}
	}
	return env
}

// StopAtCleanup stops the started process cmd when the test ends: an interrupt, so that it
// shuts down as it would at Ctrl-C, then a kill if it has not exited within 15 s.
func StopAtCleanup(t testing.TB, cmd *exec.Cmd) {
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
}
