package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/p2pstreams/p2pstreams"
)

// The peer logic (client/peer.js) in one page, over an in-page stand-in for
// the server (testdata/unit/hub.js) that delivers every offer and answer after
// the ICE candidates that follow it: candidates must be buffered until the
// remote description is set, and each must reach only its own connection.
// Real RTCPeerConnections, no server: what the small transport interface is for.
func TestPeerLogicOverInPageHub(t *testing.T) {
	long(t)
	a := startApp(t, func(_ *p2pstreams.Server, mux *http.ServeMux) {
		mux.Handle("GET /unit/", http.StripPrefix("/unit/", http.FileServer(http.Dir("testdata/unit"))))
	})
	p := a.b.NewPage(t)
	p.Navigate(a.url + "/unit/index.html")
	p.WaitText("ready")
	var out struct {
		EarlyCandidates  int                 `json:"earlyCandidates"`
		CandidateTargets []string            `json:"candidateTargets"`
		Data             map[string][]string `json:"data"`
		AfterLeave       string              `json:"afterLeave"`
		ReloadStates     []string            `json:"reloadStates"`
		HostStates       []string            `json:"hostStates"`
		Errors           []string            `json:"errors"`
		NewHost          string              `json:"newHost"`
		Forgotten        [][]string          `json:"forgotten"`
		MapAfterForget   map[string]string   `json:"mapAfterForget"`
		HostsAfterReset  []string            `json:"hostsAfterReset"`
		ICEServers       []any               `json:"iceServers"`
		HubHostAfterRst  string              `json:"hubHostAfterReset"`
	}
	p.Eval(`runPeerLogic()`, &out)
	t.Logf("%+v", out)

	if out.EarlyCandidates == 0 {
		t.Error("no ICE candidate was routed: the test did not exercise buffering")
	}
	want := []string{
		"IceCandidate:c1>host", "IceCandidate:c2>host", "IceCandidate:host>c1", "IceCandidate:host>c2",
		"SdpAnswer:c1>host", "SdpAnswer:c2>host", "SdpOffer:host>c1", "SdpOffer:host>c2",
	}
	if !slices.Equal(out.CandidateTargets, want) {
		t.Errorf("routed %q, want only host<->client pairs %q", out.CandidateTargets, want)
	}
	order := []string{"c1: one", "host: two", "c2: three"}
	for id, got := range out.Data {
		if !slices.Equal(got, order) {
			t.Errorf("%s got %q, want each message once in the host's order %q", id, got, order)
		}
	}
	if len(out.Data) != 3 {
		t.Errorf("messages seen by %d peers, want 3", len(out.Data))
	}
	if out.AfterLeave != "disconnected" {
		t.Errorf("the host marked the reloading client %q, want disconnected", out.AfterLeave)
	}
	if !slices.Equal(out.ReloadStates, []string{"negotiating", "connecting", "connected"}) {
		t.Errorf("the reloaded client went through %q", out.ReloadStates)
	}
	if !slices.Equal(out.HostStates, []string{"negotiating", "connected"}) {
		t.Errorf("the host went through %q, want negotiating then connected only", out.HostStates)
	}
	if len(out.Errors) != 0 {
		t.Errorf("errors reported: %q", out.Errors)
	}
	if out.NewHost == "" {
		t.Error("no new host after the host left")
	}
	if !slices.EqualFunc(out.Forgotten, [][]string{{"PeerLeft", "h", "gone"}}, slices.Equal) {
		t.Errorf("PeerLeft sent: %q, want once, from the host h about gone", out.Forgotten)
	}
	if b, _ := json.Marshal(out.ICEServers); string(b) != `[[{"urls":["stun:127.0.0.1:3478"]}]]` {
		t.Errorf("RTCPeerConnection got iceServers %s, want the frame config's, once", b)
	}
	if len(out.HostsAfterReset) != 1 || out.HostsAfterReset[0] != out.HubHostAfterRst {
		t.Errorf("after a reset, peers hosting: %q, the hub's host %q; want exactly that one", out.HostsAfterReset, out.HubHostAfterRst)
	}
	if len(out.MapAfterForget) != 1 || out.MapAfterForget["h"] != "connected" {
		t.Errorf("the state map after forgetting is %v, want only the host", out.MapAfterForget)
	}
}
