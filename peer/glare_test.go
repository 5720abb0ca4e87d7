package peer_test

import (
	"sync"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/peer"
)

// A Go client with a track of its own joins a browser host that is already
// sharing its camera: the host's offer of its camera and the client's offer
// of its track cross over the DataChannel. Both must still arrive: the
// client's video plays on the host's page and the host's camera decodes at
// the client.
func TestGlareGoClientJoinsSharingBrowserHost(t *testing.T) {
	d := newDemoEnv(t)
	host := d.page("glj", "host")
	host.WaitText("host: connected")
	var shared bool
	host.Eval(`(async () => {
		window.camera = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } })
		return document.querySelector("p2p-frame").shareStream(window.camera) })()`, &shared)
	if !shared {
		t.Fatal("shareStream returned false")
	}
	got := &tracks{t: t}
	cfg := d.goConfig("glj", "alice", &rec{})
	cfg.OnTrack = got.onTrack
	alice := d.join(cfg)
	if err := alice.AddTrack(testVideo(t, "cam", "alice-cam")); err != nil {
		t.Fatal(err)
	}
	host.WaitTrue(videoPlaying("alice"), "alice's video playing on the sharing browser host's page")
	r := got.playing("alice", "host", 30)
	if n, w, h := r.decoded(); n < 1 || w != 320 || h != 240 {
		t.Errorf("alice's recording of the host's camera: %d keyframes decoded at %d×%d, want ≥ 1 at 320×240", n, w, h)
	}
	t.Logf("offers crossed %d time(s) at alice", peer.Glares(alice))
}

// Go host and Go client add a track at the same moment, mid-session, a few
// times over: whether the offers cross or not, each receives the other's.
func TestGlareGoPeersAddTracksTogether(t *testing.T) {
	e := newEnv(t)
	atHost, atAlice := &tracks{t: t}, &tracks{t: t}
	hcfg := e.mediaConfig("host", &rec{})
	hcfg.OnTrack = atHost.onTrack
	host := e.join(hcfg)
	acfg := e.mediaConfig("alice", &rec{})
	acfg.OnTrack = atAlice.onTrack
	alice := e.join(acfg)
	eventually(t, 20*time.Second, "alice's link to the host open", func() bool {
		_, stable, err := peer.Negotiated(alice, host.ID())
		return err == nil && stable
	})
	for i := range 3 {
		nh, na := atHost.count(), atAlice.count()
		hv, av := testVideo(t, "h", "host-cam"), testVideo(t, "a", "alice-cam")
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _ = host.AddTrack(hv) }()
		go func() { defer wg.Done(); _ = alice.AddTrack(av) }()
		wg.Wait()
		eventually(t, 20*time.Second, "each receives the other's new track", func() bool {
			return atHost.count() > nh && atAlice.count() > na
		})
		rh := atHost.playing("host", "alice", 30)
		ra := atAlice.playing("alice", "host", 30)
		if err := host.RemoveTrack(hv); err != nil {
			t.Fatal(err)
		}
		if err := alice.RemoveTrack(av); err != nil {
			t.Fatal(err)
		}
		ended(t, "host's track at alice", ra)
		ended(t, "alice's track at the host", rh)
		t.Logf("round %d: offers crossed %d time(s) at alice, %d at the host", i, peer.Glares(alice), peer.Glares(host))
	}
}

func (ts *tracks) count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.rs)
}
