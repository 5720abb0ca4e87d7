package main

// TURN across networks where the direct path is impossible (README,
// "Testing"). The test enters network namespaces by itself (as root):
//
//	unshare --net --mount: three named namespaces joined by veth pairs,
//	   ta (10.99.1.2) ── tsrv (10.99.1.1, 10.99.2.1) ── tb (10.99.2.2)
//	with forwarding off in tsrv: A and B each reach the server, never
//	each other.
//
// The test binary re-runs itself in tsrv, where `serve` (with the
// embedded TURN, or --turn-url to a second TURN process standing in for
// coturn) runs in-process; the host runs in ta and the client in tb, as
// Go peers or headless Chromium on the demo page, each a role process of
// this test binary (TestNetnsRole) started with `ip netns exec`.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pion/ice/v4"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/client"
	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/demo/demotest"
	"github.com/p2pstreams/p2pstreams/internal/testenv"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
	"github.com/p2pstreams/p2pstreams/turnserver"
)

const (
	envNetns      = "P2PSTREAMS_NETNS"      // "srv": this process runs in the test's tsrv namespace
	envRole       = "P2PSTREAMS_NETNS_ROLE" // a role process: gohost, goclient, browserhost, browserclient, turn
	envRoleConfig = "P2PSTREAMS_NETNS_CONFIG"
	resultPrefix  = "NETNS-RESULT "
	srvIP         = "10.99.1.1" // tsrv's address on A's side; B reaches it through its default route
)

// netnsScript makes the namespaces (TESTING.md) and runs "$@" in tsrv.
const netnsScript = `set -e
mount -t tmpfs none /run && mkdir -p /run/netns
for n in srv a b; do ip netns add t$n; ip -n t$n link set lo up; done
ip link add va type veth peer name va0 netns tsrv; ip link set va netns ta
ip link add vb type veth peer name vb0 netns tsrv; ip link set vb netns tb
ip -n ta addr add 10.99.1.2/24 dev va; ip -n ta link set va up
ip -n tsrv addr add 10.99.1.1/24 dev va0; ip -n tsrv link set va0 up
ip -n tb addr add 10.99.2.2/24 dev vb; ip -n tb link set vb up
ip -n tsrv addr add 10.99.2.1/24 dev vb0; ip -n tsrv link set vb0 up
ip -n ta route add default via 10.99.1.1; ip -n tb route add default via 10.99.2.1
exec ip netns exec tsrv "$@"
`

// TestTURNAcrossNamespaces: a host in A and a client in B, both Go peers
// and both Chromium, connect through TURN (the selected candidate pair is
// relayed, from stats) and chat: with serve's embedded TURN, in relay-only
// mode too, and with an external TURN server given by --turn-url and
// --turn-secret.
func TestTURNAcrossNamespaces(t *testing.T) {
	if os.Getenv(envNetns) != "srv" {
		enterNamespaces(t, "^TestTURNAcrossNamespaces$")
		return
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err != nil || strings.TrimSpace(string(b)) != "0" {
		t.Fatalf("tsrv forwards packets (%q, %v): A could reach B directly", b, err)
	}
	const secret = "netns-token-secret-0123456789"
	const extSecret = "netns-external-turn-secret-0123"
	embedded := []string{"--turn-addr", srvIP + ":3478"}
	external := []string{"--turn-url", "turn:" + srvIP + ":3479?transport=udp,turn:" + srvIP + ":3479?transport=tcp", "--turn-secret", extSecret}
	for _, tc := range []struct {
		name      string
		browser   bool
		relayOnly bool
		external  bool
	}{
		{"go/embedded", false, false, false},
		{"go/embedded/relay-only", false, true, false},
		{"go/external", false, true, true},
		{"chromium/embedded", true, false, false},
		{"chromium/embedded/relay-only", true, true, false},
		{"chromium/external", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--addr", srvIP + ":0", "--secret", secret}, embedded...)
			if tc.external {
				ext := startRole(t, "", "turn", roleConfig{Secret: extSecret, Addr: srvIP + ":3479"})
				ext.result(t) // listening
				args = append([]string{"--addr", srvIP + ":0", "--secret", secret}, external...)
			}
			base, _ := serve(t, args...)
			session := strings.NewReplacer("/", "-").Replace(tc.name)
			rc := roleConfig{Base: base, Secret: secret, Session: session, RelayOnly: tc.relayOnly}
			kind := "go"
			if tc.browser {
				kind = "browser"
			}
			hc, cc := rc, rc
			hc.Me, hc.Other = "alice", "bob"
			cc.Me, cc.Other = "bob", "alice"
			host := startRole(t, "ta", kind+"host", hc)
			hostRes := host.result(t) // the host is up before the client joins
			client := startRole(t, "tb", kind+"client", cc)
			clientRes := client.result(t)
			hostRes = host.result(t)
			for _, r := range []roleResult{hostRes, clientRes} {
				if !r.Relayed || (tc.relayOnly && (r.Local != "relay" || r.Remote != "relay")) {
					t.Errorf("%s: the link is not relayed as expected: %+v", r.Me, r)
				}
				if r.Got != "hello from "+otherOf(r.Me) {
					t.Errorf("%s got %q", r.Me, r.Got)
				}
			}
			t.Logf("host %+v, client %+v", hostRes, clientRes)
		})
	}
	// TURN down, relay only: nothing can work, and the client says so
	// with a code (ice_failed) rather than hanging.
	for _, browser := range []bool{false, true} {
		kind, name := "go", "go/turn-down"
		if browser {
			kind, name = "browser", "chromium/turn-down"
		}
		t.Run(name, func(t *testing.T) {
			if !clientKnows("ice_failed") {
				t.Skip("SKIPPED: the client has no ICE-connect timeout (ice_failed) yet")
			}
			dead := []string{"--turn-url", "turn:" + srvIP + ":3999?transport=udp", "--turn-secret", extSecret}
			base, _ := serve(t, append([]string{"--addr", srvIP + ":0", "--secret", secret}, dead...)...)
			rc := roleConfig{Base: base, Secret: secret, Session: strings.ReplaceAll(name, "/", "-"), RelayOnly: true}
			hc, cc := rc, rc
			hc.Me, hc.Other, hc.HostOnly = "alice", "bob", true
			cc.Me, cc.Other, cc.ExpectFail = "bob", "alice", true
			host := startRole(t, "ta", kind+"host", hc)
			host.result(t)
			res := startRole(t, "tb", kind+"client", cc).result(t)
			if res.FailedCode != "ice_failed" {
				t.Errorf("the client reported %+v, want a failure with ice_failed", res)
			}
		})
	}
}

// clientKnows reports whether the clients have the error code (both take
// their codes from package protocol, which the embedded constants.js shows).
func clientKnows(code string) bool {
	b, err := fs.ReadFile(client.FS, "constants.js")
	return err == nil && strings.Contains(string(b), `"`+code+`"`)
}

func otherOf(me string) string {
	if me == "alice" {
		return "bob"
	}
	return "alice"
}

// enterNamespaces runs the test named by run in new namespaces (netnsScript).
func enterNamespaces(t *testing.T, run string) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: the namespace TURN test runs in the full suite")
	}
	if os.Geteuid() != 0 {
		msg := "SKIPPED: the namespace TURN test needs root (unshare --net --mount, ip netns)"
		if testenv.Strict() {
			t.Fatal(msg + " [P2PSTREAMS_STRICT=1 makes this a failure]")
		}
		fmt.Fprintln(os.Stderr, msg)
		t.Skip(msg)
	}
	testenv.Need(t, "unshare", "unshare")
	testenv.Need(t, "ip (iproute2)", "ip")
	testenv.Chromium(t) // skips loudly, or fails in strict mode, without it
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	args := []string{"--net", "--mount", "bash", "-c", netnsScript, "bash",
		os.Args[0], "-test.run=" + run, "-test.count=1", "-test.v", "-test.timeout=4m"}
	cmd := exec.CommandContext(ctx, "unshare", args...)
	// The namespaces are the test's: the binary must not move itself into
	// a loopback-only one (testenv.EnterLoopbackNamespace) in them.
	cmd.Env = append(os.Environ(), envNetns+"=srv", "P2PSTREAMS_NETNS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || testing.Verbose() {
		t.Logf("in the namespaces:\n%s", out)
	}
	if err != nil {
		t.Fatalf("the test in the namespaces failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+strings.Trim(run, "^$")) {
		t.Fatalf("the test in the namespaces did not pass")
	}
}

// roleConfig is what a role process gets (JSON, in envRoleConfig).
type roleConfig struct {
	Base       string // the server's http:// base URL
	Secret     string // token secret (turn role: the TURN secret)
	Session    string
	Me, Other  string
	RelayOnly  bool
	ExpectFail bool   // client: nothing can connect; report the failure's code
	HostOnly   bool   // host: join, report, and wait for the end
	Addr       string // turn role: where to listen
}

// roleResult is what a role process reports on its stdout.
type roleResult struct {
	Me            string
	Phase         string // "up" (host joined, or TURN listening), then "done"
	Got           string // the other's message
	Local, Remote string // the selected pair's candidate types
	Relayed       bool
	RTTMls        float64
	FailedCode    string // ExpectFail: the code the client failed with
	Error         string
}

type role struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	results chan roleResult
	mu      sync.Mutex
	log     strings.Builder
}

// startRole starts this test binary as a role process in netns (none:
// this one). It runs until the test ends (its stdin closes).
func startRole(t *testing.T, netns, name string, c roleConfig) *role {
	t.Helper()
	cfg, _ := json.Marshal(c)
	argv := []string{os.Args[0], "-test.run=^TestNetnsRole$", "-test.count=1", "-test.v", "-test.timeout=2m"}
	if netns != "" {
		argv = append([]string{"ip", "netns", "exec", netns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), envRole+"="+name, envRoleConfig+"="+string(cfg), envNetns+"=", "P2PSTREAMS_NETNS_CHILD=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	r := &role{cmd: cmd, stdin: stdin, results: make(chan roleResult, 4)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			r.mu.Lock()
			r.log.WriteString(line + "\n")
			r.mu.Unlock()
			if rest, ok := strings.CutPrefix(line, resultPrefix); ok {
				var res roleResult
				if json.Unmarshal([]byte(rest), &res) == nil {
					r.results <- res
				}
			}
		}
		close(r.results)
	}()
	t.Cleanup(func() {
		stdin.Close()
		timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
		<-done
		err := cmd.Wait()
		timer.Stop()
		if err != nil || t.Failed() {
			r.mu.Lock()
			t.Logf("role %s in %q (%v):\n%s", name, netns, err, r.log.String())
			r.mu.Unlock()
		}
	})
	return r
}

// result waits for the role's next report.
func (r *role) result(t *testing.T) roleResult {
	t.Helper()
	select {
	case res, ok := <-r.results:
		if !ok {
			t.Fatal("the role process ended without a result")
		}
		if res.Error != "" {
			t.Fatalf("%s: %s", res.Me, res.Error)
		}
		return res
	case <-time.After(90 * time.Second):
		t.Fatal("no result from the role process in 90s")
	}
	return roleResult{}
}

// TestNetnsRole is a role process of TestTURNAcrossNamespaces; it does
// nothing in a plain test run.
func TestNetnsRole(t *testing.T) {
	name := os.Getenv(envRole)
	if name == "" {
		t.Skip("a role of TestTURNAcrossNamespaces, run by it")
	}
	var c roleConfig
	if err := json.Unmarshal([]byte(os.Getenv(envRoleConfig)), &c); err != nil {
		t.Fatal(err)
	}
	report := func(r roleResult) {
		r.Me = c.Me
		b, _ := json.Marshal(r)
		fmt.Printf("%s%s\n", resultPrefix, b)
	}
	defer func() {
		if t.Failed() {
			report(roleResult{Error: "the role failed; see its log"})
		}
	}()
	switch name {
	case "turn":
		ts, err := turnserver.Listen(turnserver.Config{Addr: c.Addr, Secret: []byte(c.Secret)})
		if err != nil {
			t.Fatal(err)
		}
		defer ts.Close()
		report(roleResult{Phase: "up"})
	case "gohost", "goclient":
		goRole(t, c, name == "gohost", report)
	case "browserhost", "browserclient":
		browserRole(t, c, name == "browserhost", report)
	default:
		t.Fatalf("unknown role %q", name)
	}
	io.Copy(io.Discard, os.Stdin) // until the test is done with us
}

func goRole(t *testing.T, c roleConfig, isHost bool, report func(roleResult)) {
	cfgJSON := json.RawMessage(`{}`)
	if c.RelayOnly {
		cfgJSON = json.RawMessage(`{"iceTransportPolicy":"relay","connect_timeout_mls":5000}`)
	}
	tok, err := token.Issue([]byte(c.Secret), token.Claims{
		Session: protocol.SessionID(c.Session), Peer: protocol.PeerID(c.Me),
		Expires: time.Now().Add(time.Hour).Unix(), Config: cfgJSON,
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan peer.Message, 64)
	peers := make(chan map[protocol.PeerID]peer.State, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := peer.Config{
		URL: "ws" + strings.TrimPrefix(c.Base, "http") + "p2p/", Token: tok, API: namespaceAPI(),
		OnMessage: func(m peer.Message) { msgs <- m },
		OnPeers:   func(m map[protocol.PeerID]peer.State) { peers <- m },
	}
	if c.ExpectFail {
		jctx, jcancel := context.WithTimeout(ctx, 20*time.Second)
		defer jcancel()
		p, err := peer.Join(jctx, cfg)
		if err == nil {
			p.Close(context.Background())
			t.Fatal("joined and connected with the TURN server down")
		}
		r := roleResult{Phase: "done", Error: ""}
		if strings.Contains(err.Error(), "ice_failed") {
			r.FailedCode = "ice_failed"
		} else {
			r.FailedCode = "other: " + err.Error()
		}
		report(r)
		return
	}
	p, err := peer.Join(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if isHost {
		report(roleResult{Phase: "up"})
		if c.HostOnly {
			io.Copy(io.Discard, os.Stdin) // stay the host until the test ends
			return
		}
	}
	for m := range peers { // until the other end is connected
		if m[protocol.PeerID(c.Other)] == peer.StateConnected {
			break
		}
	}
	if err := p.Send(ctx, "hello from "+c.Me); err != nil {
		t.Fatal(err)
	}
	var got string
	for got == "" {
		select {
		case m := <-msgs:
			if string(m.From) == c.Other {
				got = m.Text()
			}
		case <-ctx.Done():
			t.Fatal("no message from", c.Other)
		}
	}
	var s peer.LinkStats
	for s.Local == "" {
		if st := p.Stats(); len(st) == 1 {
			s = st[0]
		}
		select {
		case <-ctx.Done():
			t.Fatal("no selected candidate pair")
		case <-time.After(50 * time.Millisecond):
		}
	}
	report(roleResult{Phase: "done", Got: got, Local: s.Local, Remote: s.Remote, Relayed: s.Relayed, RTTMls: float64(s.RTT.Microseconds()) / 1000})
}

// namespaceAPI is pion with the namespace's own interfaces (lo and one
// veth): no mDNS, UDP4.
func namespaceAPI() *webrtc.API {
	var se webrtc.SettingEngine
	if n, err := stdnet.NewNet(); err == nil {
		se.SetNet(n)
	}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

func browserRole(t *testing.T, c roleConfig, isHost bool, report func(roleResult)) {
	b, err := browsertest.Launch(context.Background(), testenv.Chromium(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	page := b.NewPage(t)
	// Record the frame's events from the start (they bubble to document).
	if _, err := chromedp.Call(page.Context(), cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: `window.events = [];
		for (const type of ["p2p:error", "p2p:state"]) document.addEventListener(type, (e) => events.push(type + " " + JSON.stringify(e.detail)))`}); err != nil {
		t.Fatal(err)
	}
	url := c.Base + "room?room=" + c.Session + "&name=" + c.Me
	if c.RelayOnly {
		url += "&relay=on"
	}
	page.Navigate(url)
	if isHost {
		page.WaitText(c.Me + ": connected")
		report(roleResult{Phase: "up"})
		if c.HostOnly {
			io.Copy(io.Discard, os.Stdin) // stay the host until the test ends
			return
		}
	}
	if c.ExpectFail {
		// The link times out after connect_timeout_mls (15 s by default).
		browsertest.Timeout = 45 * time.Second
		defer func() {
			if t.Failed() {
				var ev []string
				page.Eval(`events`, &ev)
				t.Logf("the frame's events:\n%s", strings.Join(ev, "\n"))
			}
		}()
		page.WaitTrue(`events.some((e) => e.startsWith('p2p:state {"state":"failed"') && e.includes('"code":"ice_failed"'))`, "state failed with code ice_failed")
		report(roleResult{Phase: "done", FailedCode: "ice_failed"})
		return
	}
	page.WaitText(c.Other + ": connected")
	demotest.Say(page, "hello from "+c.Me)
	demotest.WaitLine(page, c.Other+": hello from "+c.Other)
	var s []struct {
		Local, Remote string
		Relayed       bool
		RTTMls        float64
	}
	page.Eval(`(async () => {
		for (let i = 0; i < 300; i++) {
			const s = await document.querySelector("p2p-frame").linkStats()
			if (s.length === 1 && s[0].local) return s
			await new Promise((r) => setTimeout(r, 50))
		}
		return []
	})()`, &s)
	if len(s) != 1 {
		t.Fatal("no selected candidate pair")
	}
	page.WaitText(c.Other + ": relayed (TURN)") // the demo says so too
	report(roleResult{Phase: "done", Got: "hello from " + c.Other, Local: s[0].Local, Remote: s[0].Remote, Relayed: s[0].Relayed, RTTMls: s[0].RTTMls})
}
