// Package testenv finds or starts the real services that integration tests
// need: a redis-server or nats-server on a free loopback port, and Chromium.
//
// When a binary is missing the test is skipped with a loud message, unless
// P2PSTREAMS_STRICT=1 (set by .ci/run), which turns every such skip into a
// failure: CI must run the whole suite.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Strict reports whether missing services fail tests instead of skipping them.
func Strict() bool { return os.Getenv("P2PSTREAMS_STRICT") == "1" }

// Need returns the path of the first of names found on PATH (or as an
// absolute path). It skips t loudly, or fails it in strict mode, when none is.
func Need(t testing.TB, what string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("SKIPPED: %s not found (looked for %s); install it to run this test (.ci/run does)", what, strings.Join(names, ", "))
	if Strict() {
		t.Fatal(msg + " [P2PSTREAMS_STRICT=1 makes this a failure]")
	}
	fmt.Fprintln(os.Stderr, "testenv: "+msg)
	t.Skip(msg)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a server started for a test. It is stopped by t.Cleanup.
type Process struct {
	Addr string // host:port
	cmd  *exec.Cmd
	args []string
}

// Stop kills the process (not gracefully: tests use it to crash a service).
func (p *Process) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		p.cmd = nil
	}
}

// Restart starts the process again on the same address.
func (p *Process) Restart(t testing.TB) {
	t.Helper()
	p.Stop()
	p.start(t)
}

func (p *Process) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start %s: %v", p.args[0], err)
	}
	p.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Stop()
	t.Fatalf("testenv: %s did not listen on %s within 10s", p.args[0], p.Addr)
}

func startProcess(t testing.TB, port int, args ...string) *Process {
	t.Helper()
	p := &Process{Addr: "127.0.0.1:" + strconv.Itoa(port), args: args}
	p.start(t)
	t.Cleanup(p.Stop)
	return p
}

// Redis starts a redis-server on a free loopback port, keeping nothing on disk.
func Redis(t testing.TB) *Process {
	t.Helper()
	bin := Need(t, "redis-server", "redis-server")
	port := FreePort(t)
	return startProcess(t, port, bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--loglevel", "warning")
}

// NATS starts a nats-server on a free loopback port.
func NATS(t testing.TB) *Process {
	t.Helper()
	bin := Need(t, "nats-server", "nats-server", "/usr/sbin/nats-server")
	port := FreePort(t)
	return startProcess(t, port, bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
}

// chromiumNames are the names Chromium is looked for on PATH.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// ChromiumPath returns $P2PSTREAMS_CHROMIUM or the first Chromium on PATH,
// "" if there is none.
func ChromiumPath() string {
	if p := os.Getenv("P2PSTREAMS_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range chromiumNames {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// SkipBrowser reports whether P2PSTREAMS_SKIP_BROWSER=1 asks to skip every
// browser test (and the check that fails without Chromium).
func SkipBrowser() bool { return os.Getenv("P2PSTREAMS_SKIP_BROWSER") == "1" }

// Chromium returns the path of a Chromium binary. Without one, or with
// P2PSTREAMS_SKIP_BROWSER=1, it skips t loudly (fails it in strict mode).
func Chromium(t testing.TB) string {
	t.Helper()
	if SkipBrowser() && !Strict() {
		t.Skip("SKIPPED: P2PSTREAMS_SKIP_BROWSER=1")
	}
	if p := os.Getenv("P2PSTREAMS_CHROMIUM"); p != "" {
		return p
	}
	return Need(t, "Chromium", chromiumNames...)
}
