// Package browsertest runs real headless Chromium for end-to-end tests: one
// browser process per test binary, and a new browser context (separate
// cookies and storage: a separate user) for each page a test opens.
//
// Use:
//
//	func TestMain(m *testing.M) { os.Exit(browsertest.Main(m)) }
//
//	func TestRoom(t *testing.T) {
//		b := browsertest.Shared(t) // skips without Chromium (fails if P2PSTREAMS_STRICT=1)
//		alice := b.NewPage(t)      // a new user; closed at the end of t
//		alice.Navigate(url)
//		alice.WaitText("alice: connected")
//	}
//
// Chromium runs with the flags WebRTC needs on loopback
// (--allow-loopback-in-peer-connection, --use-fake-ui-for-media-stream) and
// without any background traffic, in a loopback-only network namespace:
// Main re-executes the test binary in a new one (testenv.EnterLoopbackNamespace)
// unless it runs in one already, so a plain `go test ./...` runs the browser
// tests. Where no namespace can be made, Shared skips (fails when
// P2PSTREAMS_STRICT=1).
// A tab holds at most 500 RTCPeerConnections (closed ones count until
// collected): use new pages rather than reloading one page many times.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/p2pstreams/p2pstreams/internal/testenv"
)

// Flags are the Chromium flags every browser gets, beside headless,
// no-sandbox (root needs it) and a fresh profile directory.
var Flags = []string{
	"allow-loopback-in-peer-connection", // without it pages gather no candidates on loopback
	"use-fake-ui-for-media-stream",      // grants camera/mic and lets WebRTC gather host candidates
	"use-fake-device-for-media-stream",  // getUserMedia gets a synthetic camera (test pattern) and beeping microphone
	"disable-background-networking",
	"disable-component-update",
	"disable-sync",
	"no-first-run",
	"no-default-browser-check",
	"disable-gpu",
	"disable-dev-shm-usage",
	"disable-extensions",
	"disable-background-timer-throttling", // timers (heartbeats) run at full rate in every tab
	"disable-renderer-backgrounding",
	"disable-backgrounding-occluded-windows",
	"disable-features=Translate,MediaRouter,OptimizationHints,WebRtcHideLocalIpsWithMdns",
}

// Browser is one running Chromium.
type Browser struct {
	ctx    context.Context // the browser's own tab; parent of every page
	cancel func()
}

// Launch starts Chromium at execPath and returns it once it answers. Close
// stops it. extra flags ("name" or "name=value") come after Flags and win
// over them (e.g. "use-fake-ui-for-media-stream=deny": every capture refused).
func Launch(ctx context.Context, execPath string, extra ...string) (*Browser, error) {
	dir, err := os.MkdirTemp("", "p2pstreams-chromium-")
	if err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.UserDataDir(dir),
	}
	for _, f := range append(Flags[:len(Flags):len(Flags)], extra...) {
		name, value, ok := cut(f)
		if ok {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	b := &Browser{ctx: bctx, cancel: func() {
		bcancel()
		acancel() // waits for the process to exit
		os.RemoveAll(dir)
	}}
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		b.cancel()
		return nil, fmt.Errorf("browsertest: start %s: %w", execPath, err)
	}
	return b, nil
}

func cut(f string) (name, value string, ok bool) {
	for i := 0; i < len(f); i++ {
		if f[i] == '=' {
			return f[:i], f[i+1:], true
		}
	}
	return f, "", false
}

// PID is the browser's main process (its renderers and other processes
// are its descendants), for CPU figures.
func (b *Browser) PID() int {
	if p := chromedp.FromContext(b.ctx).Browser.Process(); p != nil {
		return p.Pid
	}
	return 0
}

// Close stops the browser and removes its profile.
func (b *Browser) Close() { b.cancel() }

var shared struct {
	once sync.Once
	b    *Browser
	err  error
}

// Shared returns the browser of this test binary, starting it on first use.
// Without Chromium it skips t loudly, or fails it when P2PSTREAMS_STRICT=1.
// Main stops it after the tests.
func Shared(t testing.TB) *Browser {
	t.Helper()
	path := testenv.Chromium(t)
	if ifs := testenv.NonLoopbackUp(); len(ifs) > 0 {
		msg := fmt.Sprintf("SKIPPED: browser tests run only in a loopback-only network namespace (up here: %v) "+
			"and none could be made; run: unshare -rn sh -c 'ip link set lo up && exec go test ./...'", ifs)
		if testenv.Strict() {
			t.Fatal(msg + " [P2PSTREAMS_STRICT=1 makes this a failure]")
		}
		fmt.Fprintln(os.Stderr, "browsertest: "+msg)
		t.Skip(msg)
	}
	shared.once.Do(func() {
		shared.b, shared.err = Launch(context.Background(), path)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.b
}

// Main runs the tests in a loopback-only network namespace (entering one
// when needed) and then stops the shared browser; use it in TestMain.
func Main(m *testing.M) int {
	if code, reexeced := testenv.EnterLoopbackNamespace(); reexeced {
		return code
	}
	code := m.Run()
	if shared.b != nil {
		shared.b.Close()
	}
	return code
}
