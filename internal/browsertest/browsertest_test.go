package browsertest_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"
)

func TestMain(m *testing.M) { os.Exit(browsertest.Main(m)) }

// Two pages are two users: storage set in one is not seen in the other, and
// both can open a DataChannel to each other over loopback (the flags work).
func TestPagesAreSeparateUsers(t *testing.T) {
	b := browsertest.Shared(t)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<!doctype html><body>hello</body>"))
	}))
	defer ts.Close()

	alice, bob := b.NewPage(t), b.NewPage(t)
	alice.Navigate(ts.URL)
	bob.Navigate(ts.URL)
	alice.Eval(`localStorage.setItem("who", "alice")`, nil)
	var got any
	bob.Eval(`localStorage.getItem("who")`, &got)
	if got != nil {
		t.Fatalf("bob sees alice's storage: %v", got)
	}
	alice.WaitText("hello")

	// A loopback DataChannel inside one page proves candidates are gathered.
	var msg string
	alice.Eval(`(async () => {
		const a = new RTCPeerConnection(), b = new RTCPeerConnection()
		a.onicecandidate = e => e.candidate && b.addIceCandidate(e.candidate)
		b.onicecandidate = e => e.candidate && a.addIceCandidate(e.candidate)
		const got = new Promise(r => b.ondatachannel = e => e.channel.onmessage = m => r(m.data))
		const ch = a.createDataChannel("x")
		ch.onopen = () => ch.send("over loopback")
		await a.setLocalDescription(); await b.setRemoteDescription(a.localDescription)
		await b.setLocalDescription(); await a.setRemoteDescription(b.localDescription)
		return await got
	})()`, &msg)
	if msg != "over loopback" {
		t.Fatalf("DataChannel message = %q", msg)
	}
}
