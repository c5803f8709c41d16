//go:build linux

package lambdacontract

import (
	"bytes"
	"context"
	"errors"
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
	cmd     *exec.Cmd
	addr    string
	started time.Time
	out     *testsupport.SyncBuffer
	exited  chan struct{}
	client  *http.Client
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startEmulator starts rie with bootstrap and exactly env as the process environment,
// on free loopback ports, and waits until it accepts invocations. The bootstrap itself
// starts on the first invocation, as in Lambda.
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
	e := &emulator{
		addr:   addr,
		out:    &testsupport.SyncBuffer{},
		exited: make(chan struct{}),
		client: &http.Client{Timeout: 60 * time.Second},
	}
	e.cmd = exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr,
		"--log-level", "info", bootstrap)
	e.cmd.Dir = filepath.Dir(bootstrap)
	for k, v := range env {
		e.cmd.Env = append(e.cmd.Env, k+"="+v)
	}
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	// Its own process group, so stop ends the emulator and the bootstrap it started.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	e.started = time.Now()
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", rie, err)
	}
	go func() { _ = e.cmd.Wait(); close(e.exited) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return e, nil
		}
		select {
		case <-e.exited:
			return nil, fmt.Errorf("aws-lambda-rie exited before listening on %s:\n%s", addr, e.out)
		default:
		}
		if time.Now().After(deadline) {
			e.stop()
			return nil, fmt.Errorf("aws-lambda-rie not listening on %s after 10s:\n%s", addr, e.out)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// stop kills the emulator's process group (the emulator and the bootstrap it started).
func (e *emulator) stop() {
	if e.cmd.Process != nil {
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-e.exited
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

var initReportRE = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// initDuration is the emulator's Init Duration of the bootstrap: from its start to its
// first request for work, as Lambda reports it.
func (e *emulator) initDuration() (time.Duration, error) {
	m := initReportRE.FindStringSubmatch(e.out.String())
	if m == nil {
		return 0, errors.New("no INIT REPORT in the emulator's output")
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}
