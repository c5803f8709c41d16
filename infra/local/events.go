package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
)

// eventLog prints every event the local EventBridge accepted as one JSON line and, when it
// has a file, appends the same line there. Lines are written whole, one at a time, so a
// reader never sees two events interleaved.
type eventLog struct {
	mu     sync.Mutex
	out    io.Writer
	file   *os.File
	logger *slog.Logger
}

// openEventLog appends to path (created if missing) besides writing to out; an empty path
// writes to out only.
func openEventLog(out io.Writer, path string, logger *slog.Logger) (*eventLog, error) {
	l := &eventLog{out: out, logger: logger}
	if path == "" {
		return l, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open events file: %w", err)
	}
	l.file = f
	return l, nil
}

// write records one event; it is the EventBridge stand-in's OnEvent observer.
func (l *eventLog) write(ev localaws.PublishedEvent) {
	line, err := json.Marshal(ev)
	if err != nil {
		l.logger.Error("cannot encode event", "err", err)
		return
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.out.Write(line); err != nil {
		l.logger.Error("cannot print event", "err", err)
	}
	if l.file != nil {
		if _, err := l.file.Write(line); err != nil {
			l.logger.Error("cannot append event to the events file", "err", err)
		}
	}
}

// Write writes p to out under the same lock as the events, so the runner's other output and
// the event lines never mix.
func (l *eventLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.Write(p)
}

// close syncs and closes the events file; later events are printed only.
func (l *eventLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	f := l.file
	l.file = nil
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync events file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close events file: %w", err)
	}
	return nil
}
