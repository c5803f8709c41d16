//go:build linux

package lambdacontract

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport"
)

// rieBinary is where `make tools` installs the pinned emulator.
const rieBinary = repoRoot + "/infra/.tools/bin/aws-lambda-rie"

// tokenKey is the HMAC key the local Secrets Manager serves to the functions.
const tokenKey = "contract-token-key-0123456789abcdef0123456789abcdef"

// workDir holds the binaries built by this test process; TestMain removes it.
var workDir string

func TestMain(m *testing.M) {
	if os.Getenv(lateRuntimeAPIEnv) != "" {
		lateRuntimeAPI()
		return
	}
	dir, err := os.MkdirTemp("", "lambdacontract-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "lambdacontract:", err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// requireRIE returns the emulator's path. A missing emulator skips the test on a
// developer's machine (run `make tools`) and fails it in CI, where a broken install step
// must not pass as green.
func requireRIE(tb testing.TB) string {
	tb.Helper()
	path, err := filepath.Abs(rieBinary)
	if err == nil {
		_, err = os.Stat(path)
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("aws-lambda-rie is not installed at %s (%v): `make tools` must install it", rieBinary, err)
		}
		tb.Skipf("aws-lambda-rie is not installed at %s; run `make tools`", rieBinary)
	}
	return path
}

type buildResult struct {
	path string
	err  error
}

var (
	buildMu sync.Mutex
	builds  = map[string]*buildResult{}
)

// build runs a Makefile build once per test process and returns the bootstrap's path:
// target is "build-<LogicalId>" (the rule sam build runs) or "lambda-build" with
// PKG=<package> in args. Builds are serialised: go build already uses both cores.
func build(target, goarch string, args ...string) (string, error) {
	key := strings.Join(append([]string{target, goarch}, args...), " ")
	buildMu.Lock()
	defer buildMu.Unlock()
	if r, ok := builds[key]; ok {
		return r.path, r.err
	}
	dir := filepath.Join(workDir, strconv.Itoa(len(builds)))
	cmdArgs := append([]string{"--no-print-directory", target, "ARTIFACTS_DIR=" + dir, "GOARCH=" + goarch}, args...)
	cmd := exec.Command("make", cmdArgs...)
	cmd.Dir = repoRoot
	cmd.Env = testsupport.CleanMakeEnv()
	r := &buildResult{path: filepath.Join(dir, "bootstrap")}
	if out, err := cmd.CombinedOutput(); err != nil {
		r.err = fmt.Errorf("make %s: %v\n%s", strings.Join(cmdArgs, " "), err, out)
	}
	builds[key] = r
	return r.path, r.err
}

// buildFunction builds a function of the template for the host architecture.
func buildFunction(tb testing.TB, id string) string {
	tb.Helper()
	path, err := build("build-"+id, runtime.GOARCH)
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// awsCall is one request a function made to the local AWS endpoints.
type awsCall struct {
	target string
	status int
}

// localAWS is the local AWS endpoints of one function process: the function's endpoint
// records every call, the harness's own endpoint (seeding, assertions) does not.
type localAWS struct {
	server   *localaws.Server
	fnURL    string
	db       *dynamodb.Client
	mu       sync.Mutex
	recorded []awsCall
}

func startLocalAWS(tb testing.TB, tableName, secretID string) *localAWS {
	tb.Helper()
	secrets := map[string]string{}
	if secretID != "" {
		secrets[secretID] = tokenKey
	}
	l := &localAWS{server: localaws.New(localaws.Options{Secrets: secrets})}
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		l.server.ServeHTTP(sw, r)
		l.mu.Lock()
		l.recorded = append(l.recorded, awsCall{target: r.Header.Get("X-Amz-Target"), status: sw.status})
		l.mu.Unlock()
	}))
	tb.Cleanup(fn.Close)
	harness := httptest.NewServer(l.server)
	tb.Cleanup(harness.Close)
	l.fnURL = fn.URL
	l.db = dynamodb.NewFromConfig(localaws.Config(harness.URL))
	if tableName != "" {
		if err := localaws.CreateTable(context.Background(), l.db, tableName); err != nil {
			tb.Fatalf("create table %s: %v", tableName, err)
		}
	}
	return l
}

// calls returns the calls recorded from index from on.
func (l *localAWS) calls(from int) []awsCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recorded[min(from, len(l.recorded)):])
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// emulator is one aws-lambda-rie process running one bootstrap.
type emulator struct {
	cmd      *exec.Cmd
	addr     string // the invoke endpoint
	apiAddr  string // the Runtime API the bootstrap polls
	started  time.Time
	out      *testsupport.SyncBuffer
	exited   chan struct{}
	stopOnce sync.Once
	client   *http.Client
}

// outputDrainBound bounds how long stop waits, once the emulator is dead, for its output to
// reach the buffer: exec copies the pipe in a goroutine until every writer has closed it,
// and the bootstrap, which writes to the same pipe from a process group of its own, holds
// it until it notices its Runtime API is gone and exits (milliseconds, as observed).
const outputDrainBound = 5 * time.Second

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startEmulator starts rie with bootstrap and exactly env as the process environment,
// on free loopback ports, and waits until it accepts invocations and its Runtime API
// accepts connections (the emulator opens that listener in a goroutine of its own, so its
// invoke endpoint can be up first). The bootstrap itself starts on the first invocation, as
// in Lambda.
func startEmulator(rie, bootstrap string, env map[string]string) (*emulator, error) {
	var lastErr error
	for range 3 { // a free port may be taken between probing and binding
		e, err := tryStartEmulator(rie, bootstrap, env)
		if err == nil {
			return e, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryStartEmulator(rie, bootstrap string, env map[string]string) (*emulator, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	if apiAddr == addr { // two probes can get the same port back
		return nil, fmt.Errorf("free port probe returned %s twice", addr)
	}
	e := &emulator{
		addr:    addr,
		apiAddr: apiAddr,
		out:     &testsupport.SyncBuffer{},
		exited:  make(chan struct{}),
		client:  &http.Client{Timeout: 60 * time.Second},
	}
	e.cmd = exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr,
		"--log-level", "info", bootstrap)
	e.cmd.Dir = filepath.Dir(bootstrap)
	for k, v := range env {
		e.cmd.Env = append(e.cmd.Env, k+"="+v)
	}
	if err := e.launch(e.out); err != nil {
		return nil, fmt.Errorf("start %s: %w", rie, err)
	}

	deadline := time.Now().Add(10 * time.Second)
	for _, a := range []string{addr, apiAddr} {
		for {
			conn, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case <-e.exited:
				return nil, fmt.Errorf("aws-lambda-rie exited before listening on %s:\n%s", a, e.out)
			default:
			}
			if time.Now().After(deadline) {
				e.stop()
				return nil, fmt.Errorf("aws-lambda-rie not listening on %s after 10s:\n%s", a, e.out)
			}
			time.Sleep(500 * time.Microsecond)
		}
	}
	return e, nil
}

// launch starts e.cmd with its stdout and stderr copied to out, and notes its start time.
func (e *emulator) launch(out io.Writer) error {
	e.cmd.Stdout, e.cmd.Stderr = out, out
	// Once the emulator is dead, Wait waits at most this long for the output pipe's copy.
	e.cmd.WaitDelay = outputDrainBound
	// Its own process group, so stop ends the emulator. The bootstrap runs in a group of its
	// own (the emulator's supervisor sets Setpgid), shares the emulator's stdout and stderr,
	// and exits when its Runtime API goes away.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	e.started = time.Now()
	if err := e.cmd.Start(); err != nil {
		return err
	}
	go func() { _ = e.cmd.Wait(); close(e.exited) }()
	return nil
}

// stop kills the emulator's process group and waits for the process to be reaped and for
// its output to be copied to the end (at most outputDrainBound after its death): after
// stop, e.out holds everything the emulator wrote. Calling it again does nothing.
func (e *emulator) stop() {
	e.stopOnce.Do(func() {
		if e.cmd.Process != nil {
			_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		}
		<-e.exited
	})
}

// invoke sends one event to the function and returns the emulator's answer.
func (e *emulator) invoke(event []byte) (status int, body []byte, err error) {
	url := "http://" + e.addr + "/2015-03-31/functions/function/invocations"
	resp, err := e.client.Post(url, "application/json", bytes.NewReader(event))
	if err != nil {
		return 0, nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read invoke response: %w", err)
	}
	return resp.StatusCode, body, nil
}

// initReportRE matches the line aws-lambda-rie logs at the end of the init phase, which
// it writes to its stderr before it hands the first event to the bootstrap (rapid's
// doRuntimeDomainInit logs it on return, and the invoke waits for that return):
// "INIT REPORT(durationMs: 5.304000)" on the classic path the harness runs; the managed
// instances path (AWS_LAMBDA_MAX_CONCURRENCY set) writes
// "INIT REPORT(initType: …, durationMs: 5.30, …)".
var initReportRE = regexp.MustCompile(`INIT REPORT\([^)]*durationMs: ([0-9.]+)`)

// initDuration stops the emulator and returns its Init Duration of the bootstrap, from its
// INIT START (on the first invocation) to the bootstrap's first request for work, as
// Lambda reports it. The line is in the emulator's output pipe by the time the first
// response arrives, but exec copies that pipe into e.out in a goroutine of the test
// process, which may not have run yet: so it is read only after stop has copied the
// output to the end. A missing line then means the emulator never wrote it.
func (e *emulator) initDuration() (time.Duration, error) {
	e.stop()
	out := e.out.String()
	m := initReportRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("aws-lambda-rie wrote no INIT REPORT(durationMs: …) line in its output (read to its end, or to %v after its stop): "+
			"the build the Makefile pins (RIE_VERSION) writes it before the first event reaches the bootstrap; "+
			"compare `go version -m %s` with RIE_VERSION (make tools installs it)", outputDrainBound, rieBinary)
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("INIT REPORT duration %q: %w", m[1], err)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// lateRuntimeAPIEnv makes the test binary, started as the emulator, an emulator whose
// Runtime API listens lateRuntimeAPIDelay after its invoke endpoint (see lateRuntimeAPI).
const (
	lateRuntimeAPIEnv   = "LAMBDACONTRACT_LATE_RUNTIME_API"
	lateRuntimeAPIDelay = 300 * time.Millisecond
)

// lateRuntimeAPI stands in for aws-lambda-rie on a busy machine: it listens on the invoke
// address at once and on the Runtime API address lateRuntimeAPIDelay later, as the real one
// can, whose Runtime API listener opens in a goroutine of its own. It accepts nothing and
// runs until killed.
func lateRuntimeAPI() {
	addrs := map[string]string{}
	for i, a := range os.Args {
		if strings.HasPrefix(a, "--") && i+1 < len(os.Args) {
			addrs[a] = os.Args[i+1]
		}
	}
	var lns []net.Listener
	for _, flag := range []string{"--runtime-interface-emulator-address", "--runtime-api-address"} {
		ln, err := net.Listen("tcp", addrs[flag])
		if err != nil {
			fmt.Fprintln(os.Stderr, "late runtime API:", err)
			os.Exit(2)
		}
		lns = append(lns, ln)
		time.Sleep(lateRuntimeAPIDelay)
	}
	fmt.Println("listening on", lns[0].Addr(), "and", lns[1].Addr())
	select {}
}

// TestStartEmulatorWaitsForTheRuntimeAPI proves startEmulator returns only once the Runtime
// API accepts connections too: a bootstrap started by the first invocation before it did
// got "connection refused" on its first /next, and the invocation a 502.
func TestStartEmulatorWaitsForTheRuntimeAPI(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	emu, err := startEmulator(self, "bootstrap-unused", map[string]string{lateRuntimeAPIEnv: "1"})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.stop()
	conn, err := net.DialTimeout("tcp", emu.apiAddr, time.Second)
	if err != nil {
		t.Fatalf("startEmulator returned %v after the start, before the Runtime API %s listened: %v",
			time.Since(emu.started), emu.apiAddr, err)
	}
	conn.Close()
}
