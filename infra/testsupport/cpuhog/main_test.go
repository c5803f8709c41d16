package main

import (
	"runtime"
	"testing"
	"time"
)

func TestRunPassesOnTheStatusAndStopsItsLoops(t *testing.T) {
	// os/signal starts its one watcher goroutine on a first run; the count is taken after it.
	if code, err := run(1, []string{"true"}); code != 0 || err != nil {
		t.Fatalf("run(true) = %d, %v", code, err)
	}
	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		argv []string
		want int
	}{
		{[]string{"sh", "-c", "exit 0"}, 0},
		{[]string{"sh", "-c", "exit 3"}, 3},
	} {
		code, err := run(2, tc.argv)
		if err != nil || code != tc.want {
			t.Errorf("run(%q) = %d, %v; want %d", tc.argv, code, err, tc.want)
		}
	}
	if _, err := run(1, []string{"/no/such/command"}); err == nil {
		t.Errorf("run of a missing command: no error")
	}
	// The busy loops have returned: no goroutine of theirs outlives the run.
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after the runs; want %d", runtime.NumGoroutine(), before)
		}
	}
}

func TestHogSpinsUntilStopped(t *testing.T) {
	spins, stop := hog(2)
	time.Sleep(50 * time.Millisecond)
	stop()
	n := spins.Load()
	if n == 0 {
		t.Fatalf("no iterations in 50 ms: the loops did not run")
	}
	time.Sleep(20 * time.Millisecond)
	if spins.Load() != n {
		t.Errorf("the loops ran on after stop")
	}
}
