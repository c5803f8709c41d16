// Package runnerproc builds the local runner (infra/local) and runs it as a process of its
// own on free loopback ports, as the load tests drive it: over HTTP, from outside.
package runnerproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Seed is what the runner seeded and wrote to its seed file: an organization, its pool and
// a webhook with its token and URL.
type Seed struct {
	OrganizationID string `json:"organizationId"`
	PoolID         string `json:"tableId"`
	WebhookID      string `json:"webhookId"`
	Token          string `json:"token"`
	URL            string `json:"url"`
}

// Options are a run's own runner flags and what reads the runner's standard output.
type Options struct {
	// Args are runner flags beyond the addresses, the template and the seed file; Dir is
	// the run's directory, for files such as -events-file.
	Args func(dir string) []string
	// Stdout, when set, reads the runner's standard output until the runner exits; it is
	// discarded otherwise, as its standard error always is.
	Stdout func(io.Reader)
}

// Process is a running runner.
type Process struct {
	// Dir is a directory of the run's own, removed by Stop.
	Dir string
	// AWSAddr is the address of the runner's local AWS endpoints (HOST:PORT).
	AWSAddr string
	// Seed is what the runner seeded; its URL is on the runner's API address.
	Seed Seed

	cmd      *exec.Cmd
	readDone chan struct{}
}

// seedWait bounds how long Start waits for the runner to serve (build, start, seed).
const seedWait = 60 * time.Second

// Start builds the runner from the module it runs in and starts it, returning once it has
// written its seed file; the caller must Stop it.
func Start(o Options) (*Process, error) {
	dir, err := os.MkdirTemp("", "runner")
	if err != nil {
		return nil, err
	}
	p := &Process{Dir: dir}
	if err := p.start(o); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Process) start(o Options) error {
	apiAddr, err := freeAddr()
	if err != nil {
		return err
	}
	if p.AWSAddr, err = freeAddr(); err != nil {
		return err
	}
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("find the module: %w", err)
	}
	bin, seedFile := filepath.Join(p.Dir, "runner"), filepath.Join(p.Dir, "seed.json")
	build := exec.Command("go", "build", "-o", bin, "./infra/local")
	build.Dir = strings.TrimSpace(string(root))
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the runner: %v: %s", err, out)
	}
	args := []string{"-addr", apiAddr, "-aws-addr", p.AWSAddr, "-template", filepath.Join(build.Dir, "template.yaml"), "-seed-file", seedFile}
	if o.Args != nil {
		args = append(args, o.Args(p.Dir)...)
	}
	p.cmd = exec.Command(bin, args...)
	var stdout io.Reader
	if o.Stdout != nil {
		if stdout, err = p.cmd.StdoutPipe(); err != nil {
			return err
		}
	}
	if err := p.cmd.Start(); err != nil {
		p.cmd = nil
		return fmt.Errorf("start the runner: %w", err)
	}
	if stdout != nil {
		p.readDone = make(chan struct{})
		go func() {
			defer close(p.readDone)
			o.Stdout(stdout)
		}()
	}
	for deadline := time.Now().Add(seedWait); ; {
		if b, err := os.ReadFile(seedFile); err == nil && json.Unmarshal(b, &p.Seed) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the runner wrote no seed file within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop interrupts the runner, lets the reader of its output finish, waits for it to exit
// and removes the run's directory.
func (p *Process) Stop() {
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		if p.readDone != nil {
			<-p.readDone
		}
		_ = p.cmd.Wait()
	}
	_ = os.RemoveAll(p.Dir)
}

// freeAddr is a loopback address no one listens on (just now).
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
