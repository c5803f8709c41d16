// Command cpuhog runs a command with every core of the machine kept busy beside it, the way a
// shared CI machine is: it spins one goroutine per core (or -n) for as long as the command
// runs, then stops them and exits with the command's status. The hog lives in this process,
// so it ends with it, whatever ends it (the command's exit, a failure, Ctrl-C, a kill): no
// stray busy loop outlives the run. make test-busy and the DynamoDB Local pass of make test
// under CI=true run the accounting tests under it.
//
//	go run ./infra/testsupport/cpuhog [-n N] -- command [args...]
//
// It prints the command's wall time and the hog's share of the CPU time it got, so that a run
// can show the machine was in fact busy.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", runtime.NumCPU(), "busy loops to run beside the command (default: one per core)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: cpuhog [-n N] -- command [args...]")
		os.Exit(2)
	}
	code, err := run(*n, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpuhog:", err)
	}
	os.Exit(code)
}

// run runs the command with n busy loops beside it and returns its exit status.
func run(n int, argv []string) (int, error) {
	runtime.GOMAXPROCS(max(n, 1) + 1) // the loops, and one more for this process's own work
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	spins, wait := hog(n)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		wait()
		return 1, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		// Pass the interrupt on, then wait for the command to finish its cleanup.
		_ = cmd.Process.Signal(os.Interrupt)
		err = <-done
	}
	took := time.Since(start)
	wait()
	fmt.Fprintf(os.Stderr, "cpuhog: %d busy loops beside %q for %s (%.0f thousand iterations a second per loop)\n",
		n, argv[0], took.Round(time.Millisecond), float64(spins.Load())/took.Seconds()/float64(max(n, 1)))
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// hog starts n goroutines that spin until the returned stop function is called; spins counts
// their iterations (in thousands).
func hog(n int) (spins *atomic.Int64, stop func()) {
	spins = new(atomic.Int64)
	var quit atomic.Bool
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // one OS thread each, scheduled by the kernel like any other process
			x := uint64(1)
			for !quit.Load() {
				for range 1000 {
					x = x*6364136223846793005 + 1442695040888963407
				}
				spins.Add(1)
			}
			_ = x
		}()
	}
	return spins, func() {
		quit.Store(true)
		wg.Wait()
	}
}
