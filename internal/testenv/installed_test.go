package testenv_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/p2pstreams/p2pstreams/internal/testenv"
)

// TestMain enters the loopback-only namespace as every browser test binary
// does, so that TestBrowserNamespace checks the real mechanism.
func TestMain(m *testing.M) {
	if code, done := testenv.EnterLoopbackNamespace(); done {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// The tests that need a program skip without it, and go test hides a
// passing package's skips: these checks fail instead, so that a plain
// `go test ./...` on a machine without them does not look like a full pass.
// Each says how to install the program or how to skip its tests on purpose.
var programs = []struct {
	what, skipEnv, install, tests string
	find                          func() string
}{
	{"Chromium", "P2PSTREAMS_SKIP_BROWSER", "apt-get install -y chromium (or set P2PSTREAMS_CHROMIUM=/path/to/chrome)",
		"the browser tests of e2e, examples/bot, peer (interop), p2predis/e2e, cmd/p2pstreams, internal/demo, internal/browsertest",
		testenv.ChromiumPath},
	{"redis-server", "P2PSTREAMS_SKIP_REDIS", "apt-get install -y redis-server",
		"the Redis tests of p2predis, p2predis/e2e, cmd/p2pstreams (serve --redis), internal/bench", func() string { return look("redis-server") }},
	{"nats-server", "P2PSTREAMS_SKIP_NATS", "apt-get install -y nats-server",
		"the NATS tests of nats", func() string { return look("nats-server", "/usr/sbin/nats-server") }},
	{"esbuild and tsc (npm)", "P2PSTREAMS_SKIP_BUNDLE",
		"npm install --prefix e2e/testdata/bundle --no-save --no-package-lock --no-audit --no-fund esbuild@0.28.2 typescript@7.0.2",
		"the bundler test of e2e (TestBundledClient)", func() string {
			bin := filepath.Join("..", "..", "e2e", "testdata", "bundle", "node_modules", ".bin")
			if look(filepath.Join(bin, "esbuild")) == "" {
				return ""
			}
			return look(filepath.Join(bin, "tsc"))
		}},
}

func look(names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

func TestProgramsInstalled(t *testing.T) {
	for _, p := range programs {
		t.Run(p.what, func(t *testing.T) {
			if path := p.find(); path != "" {
				t.Logf("%s: %s", p.what, path)
				return
			}
			if os.Getenv(p.skipEnv) == "1" && !testenv.Strict() {
				t.Skipf("%s not installed; %s=1 skips %s", p.what, p.skipEnv, p.tests)
			}
			t.Fatalf("%s not found, so %s skip.\nInstall it: %s\nor skip them on purpose: %s=1 go test ./...",
				p.what, p.tests, p.install, p.skipEnv)
		})
	}
}

// TestBrowserNamespace checks that the browser tests get their loopback-only
// network: the test binary entered a namespace of its own (or already ran
// in one), where lo is up and nothing else is.
func TestBrowserNamespace(t *testing.T) {
	if testenv.SkipBrowser() || testenv.ChromiumPath() == "" {
		t.Skip("no browser tests run here (see TestProgramsInstalled)")
	}
	if up := testenv.NonLoopbackUp(); len(up) > 0 {
		t.Fatalf("interfaces up besides loopback: %v: the test binary could not enter a network namespace "+
			"(user namespaces disabled?); run as root, or: unshare -rn sh -c 'ip link set lo up && exec go test ./...'", up)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("lo is not usable: %v", err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("dial over lo: %v", err)
	}
	c.Close()
}
