//go:build linux

package lambdacontract

import (
	"debug/elf"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport"
)

const (
	helloPkg   = "./infra/checks/lambdacontract/testdata/hello"
	nostartPkg = "./infra/checks/lambdacontract/testdata/nostart"

	// coldStartsEnv enables BenchmarkColdstart (make coldstart sets it): it builds every
	// function twice and starts each many times, too slow for the benchmark smoke run of
	// make test.
	coldStartsEnv = "LAMBDACONTRACT_COLDSTART"
	// minColdStarts is the number of fresh starts the medians are taken over, at least.
	minColdStarts = 7

	// The targets of the issue: size against an absolute limit and hello-world, start to
	// first response against hello-world.
	maxSizeBytes  = 12 << 20
	maxSizeRatio  = 1.6
	maxStartRatio = 1.5
)

// coldTarget is one binary the benchmark measures.
type coldTarget struct {
	name  string
	arm64 string // the deploy artifact, measured for size
	host  string // the same build for this machine, run under the emulator
	fn    *function
	event []byte
	local *localAWS
	first step

	starts []time.Duration // process start to first response
	inits  []time.Duration // the emulator's Init Duration
}

// BenchmarkColdstart prints, per function and for a hello-world Lambda built the same way,
// the stripped arm64 bootstrap size and its ratio to hello-world, the median time from
// process start under the emulator to the first response over fresh starts and its ratio
// to hello-world, and the median Init Duration (Go runtime start plus the handler's own
// init: config, clients, secret fetch), with hello-world's subtracted as "own init".
// Starts are interleaved round by round so machine noise spreads over every binary.
func BenchmarkColdstart(b *testing.B) {
	if os.Getenv(coldStartsEnv) == "" {
		b.Skipf("set %s=1 (make coldstart) to measure cold starts", coldStartsEnv)
	}
	rie := requireRIE(b)
	targets := coldTargets(b)
	rounds := max(b.N, minColdStarts)
	b.ResetTimer()
	measureColdStarts(b, rie, targets, rounds)
	b.StopTimer()
	maxSize, maxStart, err := printColdstartTable(os.Stdout, targets, rounds)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(median(targets[0].starts))/float64(time.Millisecond), "hello-ms/start")
	b.ReportMetric(maxSize, "max-size-×hello")
	b.ReportMetric(maxStart, "max-start-×hello")
}

// TestColdstartSmoke runs the instrument of make coldstart once, on hello-world and the
// ingress function: one fresh start each, and the table. It asserts the instrument works
// (both built, started and answered, every figure measured), not how fast they start:
// timing is the benchmark's to print, on a machine whose load a test cannot know.
func TestColdstartSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two bootstraps for two architectures and starts them under the emulator; skipped in -short mode")
	}
	rie := requireRIE(t)
	targets := coldTargets(t, "IngressFunction")
	if len(targets) != 2 {
		t.Fatalf("cold-start targets = %d; want hello-world and IngressFunction", len(targets))
	}
	measureColdStarts(t, rie, targets, 1)
	var table strings.Builder
	if _, _, err := printColdstartTable(&table, targets, 1); err != nil {
		t.Fatal(err)
	}
	t.Log(table.String())
	for _, tgt := range targets {
		size, stripped, err := strippedSize(tgt.arm64)
		if err != nil {
			t.Fatalf("%s: %v", tgt.name, err)
		}
		if size <= 0 || !stripped {
			t.Errorf("%s: arm64 bootstrap %s is %d bytes, stripped arm64 %v; want a stripped linux/arm64 ELF", tgt.name, tgt.arm64, size, stripped)
		}
		if len(tgt.starts) != 1 || tgt.starts[0] <= 0 {
			t.Errorf("%s: start→first response times %v; want one, above zero", tgt.name, tgt.starts)
		}
		if len(tgt.inits) != 1 || tgt.inits[0] <= 0 {
			t.Errorf("%s: init durations %v; want one, above zero", tgt.name, tgt.inits)
		}
	}
	if !strings.Contains(table.String(), "IngressFunction") || !strings.Contains(table.String(), "hello-world") {
		t.Errorf("the table names neither or only one of hello-world and IngressFunction:\n%s", table.String())
	}
}

// coldTargets builds hello-world and the functions of template.yaml (only those named in
// ids, when given; all otherwise) for arm64 (measured for size) and for this machine (run
// under the emulator), each with its first event and, for a function, its local AWS
// endpoints. hello-world comes first.
func coldTargets(tb testing.TB, ids ...string) []*coldTarget {
	tb.Helper()
	fns, err := loadFunctions()
	if err != nil {
		tb.Fatal(err)
	}
	hello := &coldTarget{name: "hello-world", event: []byte(`{}`)}
	if hello.arm64, err = build("lambda-build", "arm64", "PKG="+helloPkg); err != nil {
		tb.Fatal(err)
	}
	if hello.host, err = build("lambda-build", runtime.GOARCH, "PKG="+helloPkg); err != nil {
		tb.Fatal(err)
	}
	targets := []*coldTarget{hello}
	for _, f := range fns {
		if len(ids) > 0 && !slices.Contains(ids, f.ID) {
			continue
		}
		cases, err := loadCases(f.ID)
		if err != nil {
			tb.Fatal(err)
		}
		// The first step of the first case is the first request; a function without cases
		// (TestLambdaContract fails for it) is invoked with an empty event.
		tgt := &coldTarget{name: f.ID, fn: f, first: step{Event: []byte(`{}`)}}
		if len(cases) > 0 {
			tgt.first = cases[slices.Sorted(maps.Keys(cases))[0]].Steps[0]
		}
		if tgt.arm64, err = build("build-"+f.ID, "arm64"); err != nil {
			tb.Fatal(err)
		}
		if tgt.host, err = build("build-"+f.ID, runtime.GOARCH); err != nil {
			tb.Fatal(err)
		}
		probe, err := f.processEnv("http://127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		tgt.local = startLocalAWS(tb, probe["TABLE_NAME"], probe["TOKEN_KEY_SECRET_ID"])
		targets = append(targets, tgt)
	}
	return targets
}

// measureColdStarts starts every target fresh, rounds times, round by round.
func measureColdStarts(tb testing.TB, rie string, targets []*coldTarget, rounds int) {
	tb.Helper()
	for range rounds {
		for _, tgt := range targets {
			if err := tgt.coldStart(tb, rie); err != nil {
				tb.Fatalf("%s: %v", tgt.name, err)
			}
		}
	}
}

// coldStart starts a fresh emulator and bootstrap, sends the first event and records the
// time from the emulator's start to the response, and the emulator's Init Duration.
func (tgt *coldTarget) coldStart(tb testing.TB, rie string) error {
	env := map[string]string{"AWS_LAMBDA_FUNCTION_NAME": tgt.name, "TZ": ":UTC"}
	event := tgt.event
	if tgt.fn != nil {
		var err error
		if env, err = tgt.fn.processEnv(tgt.local.fnURL); err != nil {
			return err
		}
		fx := seed(tb, tgt.local, env["TABLE_NAME"])
		if event, err = render(tgt.name+" event", tgt.first.Event, fx); err != nil {
			return err
		}
	}
	emu, err := startEmulator(rie, tgt.host, env)
	if err != nil {
		return err
	}
	defer emu.stop()
	status, body, err := emu.invoke(event)
	elapsed := time.Since(emu.started)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("emulator status %d: %s\n%s", status, body, emu.out)
	}
	initDur, err := emu.initDuration() // stops the emulator: after the response is timed
	if err != nil {
		return fmt.Errorf("%v:\n%s", err, emu.out)
	}
	tgt.starts = append(tgt.starts, elapsed)
	tgt.inits = append(tgt.inits, initDur)
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// strippedSize returns the file size and whether the binary has no symbol table.
func strippedSize(path string) (int64, bool, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, false, err
	}
	f, err := elf.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	return info.Size(), f.Section(".symtab") == nil && f.Machine == elf.EM_AARCH64, nil
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

func mark(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// printColdstartTable writes the table of targets (hello-world first) to out and returns
// the largest size and start ratios of the functions to hello-world.
func printColdstartTable(out io.Writer, targets []*coldTarget, rounds int) (maxSize, maxStart float64, err error) {
	hello := targets[0]
	helloSize, _, err := strippedSize(hello.arm64)
	if err != nil {
		return 0, 0, err
	}
	helloStart, helloInit := median(hello.starts), median(hello.inits)

	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "\nCold start under aws-lambda-rie (%s/%s, local AWS endpoints), median of %d fresh starts; sizes of the linux/arm64 deploy build.\n",
		runtime.GOOS, runtime.GOARCH, rounds)
	fmt.Fprintln(w, "start→first response: from starting the emulator process to the first response, as the harness times it;")
	fmt.Fprintln(w, "init duration: the emulator's INIT REPORT, from its INIT START (on the first invocation) to the bootstrap's first /next.")
	fmt.Fprintln(w, "function\tarm64 bootstrap\t× hello\tstart→first response\t× hello\tinit duration\town init\tsize ≤ 12 MB\tsize ≤ 1.6×\tstart ≤ 1.5×")
	for _, tgt := range targets {
		size, stripped, err := strippedSize(tgt.arm64)
		if err != nil {
			return 0, 0, err
		}
		sizeRatio := float64(size) / float64(helloSize)
		start := median(tgt.starts)
		startRatio := float64(start) / float64(helloStart)
		initDur := median(tgt.inits)
		name := tgt.name
		if !stripped {
			name += " (NOT stripped arm64)"
		}
		own, marks := "-", "\t\t"
		if tgt != hello {
			own = ms(initDur - helloInit)
			marks = fmt.Sprintf("%s\t%s\t%s", mark(size <= maxSizeBytes && stripped), mark(sizeRatio <= maxSizeRatio), mark(startRatio <= maxStartRatio))
			maxSize, maxStart = max(maxSize, sizeRatio), max(maxStart, startRatio)
		}
		fmt.Fprintf(w, "%s\t%.2f MB\t%.2f\t%s\t%.2f\t%s\t%s\t%s\n", name, float64(size)/(1<<20), sizeRatio,
			ms(start), startRatio, ms(initDur), own, marks)
	}
	fmt.Fprintln(w)
	return maxSize, maxStart, w.Flush()
}

// TestEmulatorFailsABootstrapWithoutLambdaStart proves the contract harness catches a main
// that returns without lambda.Start: the emulator answers the invocation with an error
// status, which runStep reports as a failure.
func TestEmulatorFailsABootstrapWithoutLambdaStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a bootstrap under the emulator; skipped in -short mode")
	}
	rie := requireRIE(t)
	tests := []struct {
		name, pkg  string
		wantStatus int
	}{
		{"hello-world answers", helloPkg, http.StatusOK},
		{"main without lambda.Start fails", nostartPkg, http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bootstrap, err := build("lambda-build", runtime.GOARCH, "PKG="+tt.pkg)
			if err != nil {
				t.Fatal(err)
			}
			emu, err := startEmulator(rie, bootstrap, map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "probe"})
			if err != nil {
				t.Fatal(err)
			}
			defer emu.stop()
			status, body, err := emu.invoke([]byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus {
				t.Errorf("invoke %s = %d %s; want %d\n%s", tt.pkg, status, body, tt.wantStatus, emu.out)
			}
		})
	}
}

// laggingWriter forwards each write after a pause, as the goroutine exec copies a child's
// output with may run late on a busy machine; entered is closed at the first write.
type laggingWriter struct {
	to      io.Writer
	lag     time.Duration
	once    sync.Once
	entered chan struct{}
}

func (w *laggingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	time.Sleep(w.lag)
	return w.to.Write(p)
}

// TestInitDurationReadsTheWholeOutput proves initDuration finds a line the process wrote
// before it was asked, though the copy of its output into the buffer lags: it reads only
// once the process is stopped and its output copied to the end. Reading the buffer as the
// response came (as make coldstart did) misses the line.
func TestInitDurationReadsTheWholeOutput(t *testing.T) {
	e := &emulator{
		cmd:    exec.Command("sh", "-c", `echo 'INIT REPORT(durationMs: 5.250000)'; exec sleep 60`),
		out:    &testsupport.SyncBuffer{},
		exited: make(chan struct{}),
	}
	w := &laggingWriter{to: e.out, lag: 300 * time.Millisecond, entered: make(chan struct{})}
	if err := e.launch(w); err != nil {
		t.Fatal(err)
	}
	defer e.stop()
	select {
	case <-w.entered: // the line is written and being copied
	case <-time.After(10 * time.Second):
		t.Fatal("the process wrote nothing in 10s")
	}
	got, err := e.initDuration()
	if err != nil {
		t.Fatal(err)
	}
	if want := 5250 * time.Microsecond; got != want {
		t.Errorf("initDuration = %v; want %v", got, want)
	}
}

// TestInitDurationFailsWithoutTheLine: a process that never writes INIT REPORT is reported
// as such, once its whole output is read.
func TestInitDurationFailsWithoutTheLine(t *testing.T) {
	e := &emulator{
		cmd:    exec.Command("sh", "-c", `echo 'INIT START(type: on-demand, phase: init)'; exec sleep 60`),
		out:    &testsupport.SyncBuffer{},
		exited: make(chan struct{}),
	}
	w := &laggingWriter{to: e.out, entered: make(chan struct{})}
	if err := e.launch(w); err != nil {
		t.Fatal(err)
	}
	defer e.stop()
	select {
	case <-w.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the process wrote nothing in 10s")
	}
	if _, err := e.initDuration(); err == nil || !strings.Contains(err.Error(), "no INIT REPORT") {
		t.Errorf("initDuration error = %v; want one saying the emulator wrote no INIT REPORT", err)
	}
	if !strings.Contains(e.out.String(), "INIT START") {
		t.Errorf("output %q lacks the line the process wrote", e.out)
	}
}
