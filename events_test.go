package p2pstreams

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// eventLog collects events from OnEvent.
type eventLog struct {
	mu  sync.Mutex
	evs []string
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprintf("%s %s %s host=%s", e.Type, e.Session, e.Peer, e.Host)
	if e.Previous != "" {
		s += " previous=" + string(e.Previous)
	}
	l.evs = append(l.evs, s)
}

// waitFor polls until n events arrived, and returns them.
func (l *eventLog) waitFor(t *testing.T, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		l.mu.Lock()
		got := append([]string(nil), l.evs...)
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("%d events, want %d:\n%s", len(l.evs), n, strings.Join(l.evs, "\n"))
	return nil
}

// A scripted room reports each event once, in order: joins, the host
// reporting a client connected, the client dropping its WebSocket, the host reporting it gone, the host leaving,
// and a client coming back as the new host.
func TestEventsOfAScriptedRoom(t *testing.T) {
	var log eventLog
	srv, url := newTestServer(t, &Options{OnEvent: log.add})
	alice, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	alice.expect(protocol.SessionReady)
	log.waitFor(t, 3)
	alice.send(protocol.Message{State: protocol.PeerStates, Data: json.RawMessage(`{"alice":"connected","bob":"connected"}`)})
	log.waitFor(t, 4)
	bob.nc.Close() // bob is connected to alice: he drops his WebSocket
	log.waitFor(t, 5)
	alice.send(protocol.Message{State: protocol.PeerLeft, PeerID: "bob"}) // later alice sees him go
	carol, _ := join(t, srv, url, "room", "carol")
	alice.expect(protocol.SessionReady)
	log.waitFor(t, 7)
	alice.send(protocol.Message{State: protocol.SessionLeave})
	carol.expect(protocol.HostLeft)
	log.waitFor(t, 9)
	carol.join(srv, "room", "carol") // she comes back, as the new host
	carol.expect(protocol.SessionReady)

	carol.send(protocol.Message{State: protocol.SessionLeave}) // the last events: any extra one shows before them
	want := []string{
		"session_started room alice host=alice",
		"peer_joined room alice host=alice",
		"peer_joined room bob host=alice",
		"peer_connected room bob host=alice",
		"peer_disconnected room bob host=alice",
		"peer_left room bob host=alice",
		"peer_joined room carol host=alice",
		"peer_left room alice host=alice",
		"session_ended room alice host=alice",
		"session_started room carol host=carol",
		"host_changed room carol host=carol previous=alice",
		"peer_joined room carol host=carol",
		"peer_left room carol host=carol",
		"session_ended room carol host=carol",
	}
	got := log.waitFor(t, len(want))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// An OnEvent that blocks never blocks the server: the events that do not
// fit in the queue are dropped and counted.
func TestBlockedOnEventDropsAndCounts(t *testing.T) {
	release := make(chan struct{})
	srv, url := newTestServer(t, &Options{EventQueue: 2, OnEvent: func(Event) { <-release }})
	for i := range 10 {
		join(t, srv, url, SessionID(fmt.Sprint("s", i)), "host") // each gets SessionReady at once
	}
	if d := srv.Stats().EventsDropped; d < 20-2-1 {
		t.Errorf("EventsDropped = %d, want at least %d (20 events, a queue of 2, one being delivered)", d, 20-3)
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown with a released OnEvent: %v", err)
	}
}
