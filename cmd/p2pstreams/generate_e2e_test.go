package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"
)

// TestMain stops the shared Chromium after the tests. With asCLI set, the
// test binary is the command itself (for tests that spawn it, see
// bench_test.go).
func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(browsertest.Main(m))
}

// TestNewAppChat is the generator's end-to-end test: `p2pstreams new` an
// app, build it, run it, and have two headless Chromium users chat through
// it. Run it in a loopback-only network namespace (see TESTING.md).
func TestNewAppChat(t *testing.T) {
	b := browsertest.Shared(t) // skips loudly without Chromium or outside the namespace

	dir := t.TempDir()
	if _, err := gen(t, "new", "chatapp", "--replace", repoRoot(t), "--dir", dir); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "chatapp")
	// A generated (stub) controller too, embedded with the app's static files.
	if _, err := gen(t, "controller", "probe", "--dir", filepath.Join(app, "static")); err != nil {
		t.Fatal(err)
	}
	goCmd(t, app, "mod", "tidy")
	bin := filepath.Join(t.TempDir(), "chatapp")
	goCmd(t, app, "build", "-o", bin, ".")
	base := startApp(t, bin)
	// The page's icon and style are served (no 404 in the console).
	for _, f := range []string{"/static/icon.svg", "/static/chat.css"} {
		res, err := http.Get(base + f)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", f, res.StatusCode)
		}
	}

	alice, bob := b.NewPage(t), b.NewPage(t)
	alice.Navigate(base + "/room?name=alice&room=generated")
	waitReady(alice)
	bob.Navigate(base + "/room?name=bob&room=generated")
	waitReady(bob)
	for _, p := range []*browsertest.Page{alice, bob} {
		p.WaitText("alice: connected")
		p.WaitText("bob: connected")
	}
	alice.WaitText("(host)")

	say(alice, "hello from alice")
	say(bob, "hi alice, bob here")
	for _, p := range []*browsertest.Page{alice, bob} {
		waitChatLine(p, "alice: hello from alice")
		waitChatLine(p, "bob: hi alice, bob here")
	}

	// The generated controller loads as written (its import of the client
	// resolves) and, attached late, is told the state and the messages.
	bob.Eval(`(async () => {
		const { default: Probe } = await import("/static/probe_controller.js")
		window.probe = { connected: false, lines: [] }
		class P extends Probe {
			p2pConnected() { window.probe.connected = true }
			p2pReceivedMessage(m) { if (m.type === "Data") window.probe.lines.push(m.senderId + ": " + m.data) }
		}
		new P(document.getElementById("chat"))
		return true
	})()`, nil)
	bob.WaitTrue(`window.probe.connected`, "the generated controller's p2pConnected")
	say(alice, "to the probe")
	bob.WaitTrue(`window.probe.lines.includes("alice: to the probe")`, "the generated controller's p2pReceivedMessage")
}

// startApp runs the built app on a free loopback port and returns its base
// URL, read from its "listening on" line. It is stopped with SIGTERM (the
// app shuts the p2pstreams server down) at the end of t, and killed if it
// has not exited 10 s later.
func startApp(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "P2PSTREAMS_SECRET=generated-app-test-secret")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
				urls <- u
				break
			}
		}
		io.Copy(io.Discard, stdout) // until the app exits
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the generated app did not exit cleanly on SIGTERM: %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("the generated app did not exit within 10s of SIGTERM")
		}
	})
	select {
	case u := <-urls:
		return u
	case err := <-done:
		t.Fatalf("the generated app exited before listening: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the generated app did not print its address within 20s")
	}
	return ""
}

// waitReady waits until the page's message box is enabled: the peer is connected.
func waitReady(p *browsertest.Page) {
	p.WaitTrue(`!document.querySelector("#message").disabled`, "the message box to be enabled")
}

// say sends text through the page's form, as a user typing and pressing Send.
func say(p *browsertest.Page, text string) {
	q, _ := json.Marshal(text)
	p.Eval(fmt.Sprintf(`(() => { document.querySelector("#message").value = %s; document.querySelector("#send").requestSubmit(); return true })()`, q), nil)
}

func waitChatLine(p *browsertest.Page, line string) {
	q, _ := json.Marshal(line)
	p.WaitTrue(fmt.Sprintf(`[...document.querySelectorAll("#lines > div")].some(d => d.textContent === %s)`, q), fmt.Sprintf("chat line %q", line))
}
