package storetest

import (
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
)

// Cases of the optional interfaces (p2pstreams.Directory, Refusals,
// HostChanges), run for a store that has them; skipped, and said so,
// otherwise.

func directory(t *testing.T, s *suite) p2pstreams.Directory {
	d, ok := s.st.(p2pstreams.Directory)
	if !ok {
		t.Skip("the store is no p2pstreams.Directory")
	}
	return d
}

func refusals(t *testing.T, s *suite) p2pstreams.Refusals {
	r, ok := s.st.(p2pstreams.Refusals)
	if !ok {
		t.Skip("the store is no p2pstreams.Refusals")
	}
	return r
}

func hostChanges(t *testing.T, s *suite) p2pstreams.HostChanges {
	h, ok := s.st.(p2pstreams.HostChanges)
	if !ok {
		t.Skip("the store is no p2pstreams.HostChanges")
	}
	return h
}

// lookup calls Session and fails the test on an error.
func lookup(t *testing.T, d p2pstreams.Directory, sid p2pstreams.SessionID) (p2pstreams.SessionRecord, bool) {
	t.Helper()
	rec, ok, err := d.Session(ctxT(t), sid)
	if err != nil {
		t.Fatalf("Session(%q): %v", sid, err)
	}
	return rec, ok
}

// The host's report is kept with its session, and only the host's; a
// session is found while it has a connected host, with its connected
// members.
func testDirectoryReport(t *testing.T, s *suite) {
	d := directory(t, s)
	sid := s.session("room")
	if _, ok := lookup(t, d, sid); ok {
		t.Fatal("Session found a session nobody joined")
	}
	s.mustHost(sid, "alice", longOpts(0), "alice")
	s.mustHost(sid, "bob", longOpts(0), "alice")
	rec, ok := lookup(t, d, sid)
	if !ok || rec.ID != sid || rec.Host != "alice" || !slices.Equal(rec.Connected, []p2pstreams.PeerID{"alice", "bob"}) || rec.States != nil {
		t.Fatalf("Session before any report = %+v, %v; want alice's session, alice and bob connected, no states", rec, ok)
	}
	forged := map[p2pstreams.PeerID]string{"bob": "connected", "alice": "failed"}
	if err := d.Report(ctxT(t), sid, "bob", forged); err != nil {
		t.Fatal(err)
	}
	if rec, _ := lookup(t, d, sid); rec.States != nil {
		t.Fatalf("a client's report was kept: %+v", rec)
	}
	before := time.Now().Add(-time.Second) // the store's clock may be another's
	states := map[p2pstreams.PeerID]string{"alice": "connected", "bob": "connected", "carol": "connecting"}
	if err := d.Report(ctxT(t), sid, "alice", states); err != nil {
		t.Fatal(err)
	}
	s.leave(sid, "bob", false, p2pstreams.Departure{}) // bob closed his WebSocket: still reported
	rec, _ = lookup(t, d, sid)
	if !maps.Equal(rec.States, states) || rec.Reported.Before(before) || !slices.Equal(rec.Connected, []p2pstreams.PeerID{"alice"}) {
		t.Fatalf("Session after alice's report = %+v; want states %v, alice connected", rec, states)
	}
	all, err := d.Sessions(ctxT(t), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(all, func(r p2pstreams.SessionRecord) bool { return r.ID == sid }); i < 0 || !maps.Equal(all[i].States, states) {
		t.Fatalf("Sessions does not list %q with its report: %+v", sid, all)
	}
	if one, err := d.Sessions(ctxT(t), 1); err != nil || len(one) != 1 {
		t.Fatalf("Sessions(limit 1) = %d sessions, %v; want 1", len(one), err)
	}
	// The host leaves: the session and its report are gone, also for a
	// new host of the same id.
	s.leave(sid, "alice", false, p2pstreams.Departure{WasHost: true})
	if rec, ok := lookup(t, d, sid); ok {
		t.Fatalf("Session after the host left = %+v", rec)
	}
	all, err = d.Sessions(ctxT(t), 1<<20)
	if err != nil || slices.ContainsFunc(all, func(r p2pstreams.SessionRecord) bool { return r.ID == sid }) {
		t.Fatalf("Sessions after the host left = %+v, %v; want %q gone", all, err, sid)
	}
	s.mustHost(sid, "bob", longOpts(0), "bob")
	if rec, _ := lookup(t, d, sid); rec.States != nil {
		t.Fatalf("the new host's session has the old host's report: %+v", rec)
	}
	// Nil states forget the report.
	if err := d.Report(ctxT(t), sid, "bob", states); err != nil {
		t.Fatal(err)
	}
	if err := d.Report(ctxT(t), sid, "bob", nil); err != nil {
		t.Fatal(err)
	}
	if rec, _ := lookup(t, d, sid); rec.States != nil || !rec.Reported.IsZero() {
		t.Fatalf("Session after Report(nil) = %+v; want no report", rec)
	}
}

// A removal refuses the peer, a closed session every peer, for their time;
// a Directory leaves removed peers out.
func testRefusals(t *testing.T, s *suite) {
	r := refusals(t, s)
	check := func(sid p2pstreams.SessionID, p p2pstreams.PeerID, wantClosed, wantRemoved bool) {
		t.Helper()
		closed, removed, err := r.Refused(ctxT(t), sid, p)
		if err != nil || closed != wantClosed || removed != wantRemoved {
			t.Fatalf("Refused(%q, %q) = %v, %v, %v; want %v, %v", sid, p, closed, removed, err, wantClosed, wantRemoved)
		}
	}
	sid, other := s.session("room"), s.session("other")
	check(sid, "bob", false, false)
	s.mustHost(sid, "alice", longOpts(0), "alice")
	s.mustHost(sid, "bob", longOpts(0), "alice")
	if d, ok := s.st.(p2pstreams.Directory); ok {
		d.Report(ctxT(t), sid, "alice", map[p2pstreams.PeerID]string{"alice": "connected", "bob": "connected"})
	}
	if err := r.Refuse(ctxT(t), sid, "bob", long); err != nil {
		t.Fatal(err)
	}
	check(sid, "bob", false, true)
	check(sid, "alice", false, false)
	check(other, "bob", false, false)
	if d, ok := s.st.(p2pstreams.Directory); ok {
		rec, _ := lookup(t, d, sid)
		if _, listed := rec.States["bob"]; listed || slices.Contains(rec.Connected, "bob") {
			t.Fatalf("Session lists bob after his removal: %+v", rec)
		}
	}
	if err := r.Refuse(ctxT(t), sid, "", long); err != nil {
		t.Fatal(err)
	}
	check(sid, "carol", true, false)
	check(sid, "bob", true, true)
	check(other, "carol", false, false)

	// A refusal lapses.
	lapsing := s.session("lapsing")
	if err := r.Refuse(ctxT(t), lapsing, "bob", short); err != nil {
		t.Fatal(err)
	}
	waitPast(time.Now().Add(short))
	check(lapsing, "bob", false, false)
}

// A recorded end is handed to one SessionStarted, once, within its time.
func testHostChanges(t *testing.T, s *suite) {
	h := hostChanges(t, s)
	sid := s.session("room")
	started := func() p2pstreams.PeerID {
		t.Helper()
		prev, err := h.SessionStarted(ctxT(t), sid)
		if err != nil {
			t.Fatal(err)
		}
		return prev
	}
	if p := started(); p != "" {
		t.Fatalf("SessionStarted with no end recorded = %q", p)
	}
	if err := h.SessionEnded(ctxT(t), sid, "alice", long); err != nil {
		t.Fatal(err)
	}
	if p := started(); p != "alice" {
		t.Fatalf("SessionStarted = %q, want alice", p)
	}
	if p := started(); p != "" {
		t.Fatalf("a second SessionStarted = %q, want none", p)
	}

	// Many nodes starting at once: one gets it.
	if err := h.SessionEnded(ctxT(t), sid, "bob", long); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []p2pstreams.PeerID
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			p, err := h.SessionStarted(ctxT(t), sid)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			if p != "" {
				got = append(got, p)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if !slices.Equal(got, []p2pstreams.PeerID{"bob"}) {
		t.Fatalf("8 SessionStarted at once got %q, want bob once", got)
	}

	// An end older than its time counts no more.
	if err := h.SessionEnded(ctxT(t), sid, "carol", short); err != nil {
		t.Fatal(err)
	}
	waitPast(time.Now().Add(short))
	if p := started(); p != "" {
		t.Fatalf("SessionStarted after the end's time = %q, want none", p)
	}
}
