package p2pstreams

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// candidates returns n IceCandidate frames for to, numbered from 0, as one
// buffer: written in one go, they reach the server as one burst.
func candidates(to PeerID, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		m, _ := json.Marshal(protocol.Message{Type: protocol.Type, State: protocol.IceCandidate, To: to,
			Data: json.RawMessage(fmt.Sprintf(`{"candidate":"candidate:%d 1 udp 2122260223 192.168.1.10 54321 typ host generation 0 ufrag abcd network-id 1","sdpMid":"0","i":%d}`, i, i))})
		wsutil.WriteClientText(&b, m)
	}
	return b.Bytes()
}

// readCandidates reads n IceCandidates and returns their numbers per sender.
func (tp *testPeer) readCandidates(n int) map[PeerID][]int {
	tp.t.Helper()
	got := map[PeerID][]int{}
	for range n {
		m := tp.next()
		if m.State != protocol.IceCandidate {
			tp.t.Fatalf("after %d candidates got %s %s (%s)", len(got), m.State, m.Code, m.Text)
		}
		var d struct{ I int }
		json.Unmarshal(m.Data, &d)
		got[m.From] = append(got[m.From], d.I)
	}
	return got
}

func inOrder(is []int, n int) bool {
	if len(is) != n {
		return false
	}
	for k, i := range is {
		if i != k {
			return false
		}
	}
	return true
}

// A burst within the rate limit to a host that reads reaches it whole and in
// order: the queue is bounded in bytes, and a writer that makes progress is
// not slow. (Counted in frames, a queue of 256 closed the host as slow_reader
// in most tries.)
func TestBurstReachesReadingHost(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, nil)
	for try := range 3 {
		room := SessionID(fmt.Sprintf("room%d", try))
		host, _ := join(t, srv, url, room, "host")
		c, _ := join(t, srv, url, room, "c")
		host.expect(protocol.SessionReady)
		// The join took one of c's 1000 tokens; the bucket refills one in
		// 10 ms (100/s): then c may send its whole burst.
		time.Sleep(20 * time.Millisecond)
		if _, err := c.nc.Write(candidates("host", 1000)); err != nil {
			t.Fatal(err)
		}
		if got := host.readCandidates(1000); !inOrder(got["c"], 1000) {
			t.Fatalf("try %d: the host got %d candidates, or out of order", try, len(got["c"]))
		}
	}
	if st := srv.Stats(); st.SlowClosed != 0 || st.Relayed != 3000 {
		t.Fatalf("stats %+v", st)
	}
}

// 100 clients sending 10 candidates each at once: the host gets all 1000.
func TestFanInReachesReadingHost(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, nil)
	host, _ := join(t, srv, url, "room", "host")
	const n = 100
	clients := make([]*testPeer, n)
	for i := range clients {
		clients[i], _ = join(t, srv, url, "room", PeerID(fmt.Sprintf("c%d", i)))
		host.expect(protocol.SessionReady)
	}
	burst := candidates("host", 10)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() { c.nc.Write(burst) })
	}
	got := host.readCandidates(10 * n)
	wg.Wait()
	for i := range n {
		if is := got[PeerID(fmt.Sprintf("c%d", i))]; !inOrder(is, 10) {
			t.Fatalf("c%d: the host got %v", i, is)
		}
	}
}

// dialSmallWindow dials url with a tiny receive buffer, so that a peer that
// does not read stops the server's writes soon.
func dialSmallWindow(t *testing.T, url string) *testPeer {
	t.Helper()
	d := ws.Dialer{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				setRecvBuffer(fd, 4096)
			})
		}}
		return nd.DialContext(ctx, network, addr)
	}}
	nc, br, _, err := d.Dial(context.Background(), url)
	if err != nil || br != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	return &testPeer{t: t, nc: nc}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// Peers that never read are told slow_reader and closed (1008) once their
// queue passes its byte bound, without waiting for the write timeout;
// messages for them then get peer_not_found; the memory they hold is
// bounded by the queue bound each.
func TestNonReadingPeersAreClosedPromptly(t *testing.T) {
	checkNoLeaks(t)
	const bound = 1 << 20
	// A write timeout far longer than the test, and no keepalive (the slow
	// peers send nothing): only the byte bound acts.
	srv, url := newTestServer(t, &Options{RateLimit: -1, SendQueueBytes: bound, WriteTimeout: time.Minute, PingInterval: -1})
	host, _ := join(t, srv, url, "room", "host")
	const n = 4
	slow := make([]*testPeer, n)
	for i := range slow {
		slow[i] = dialSmallWindow(t, url)
		slow[i].join(srv, "room", PeerID(fmt.Sprintf("slow%d", i)))
		slow[i].expect(protocol.SessionReady)
		host.expect(protocol.SessionReady)
	}
	base := heapInUse()
	big := json.RawMessage(`{"sdp":"` + strings.Repeat("x", 30000) + `"}`)
	sent := 0
	type closed struct {
		status ws.StatusCode
		reason string
		codes  []protocol.Code
		err    error
	}
	got := make([]chan closed, n)
	for i, p := range slow {
		for sent = 0; sent < 400 && srv.Stats().SlowClosed <= int64(i); sent++ {
			host.send(protocol.Message{State: protocol.SdpOffer, To: PeerID(fmt.Sprintf("slow%d", i)), Data: big})
		}
		// Told slow: reading at last, it finds the Error and the close
		// frame, written best effort.
		got[i] = make(chan closed, 1)
		go func() {
			o := p.readFlood()
			codes := []protocol.Code{}
			for c, k := range o.codes {
				for range k {
					codes = append(codes, c)
				}
			}
			got[i] <- closed{o.status, o.reason, codes, o.err}
		}()
	}
	if grown := int64(heapInUse()) - int64(base); grown > n*bound+8<<20 {
		t.Errorf("the server's heap grew by %d MiB for %d slow peers", grown>>20, n)
	}
	// The host is told, within far less than the write timeout, that the
	// slow peers are gone.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < n; {
		host.send(protocol.Message{State: protocol.SdpOffer, To: PeerID(fmt.Sprintf("slow%d", i)), Data: json.RawMessage(`{"probe":true}`)})
		if m := host.next(); m.State == protocol.Error && m.Code == protocol.CodePeerNotFound {
			i++
		} else if m.State == protocol.Error {
			t.Fatalf("host got %s %s", m.Code, m.Text)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d messages each, slow%d is still reachable (%d closed as slow)", sent, i, srv.Stats().SlowClosed)
		}
	}
	for i := range slow {
		c := <-got[i]
		if c.err != nil || c.status != ws.StatusPolicyViolation || c.reason != string(protocol.CodeSlowReader) || len(c.codes) != 1 || c.codes[0] != protocol.CodeSlowReader {
			t.Errorf("slow%d: closed %d %q after %v (%v)", i, c.status, c.reason, c.codes, c.err)
		}
	}
	if st := srv.Stats(); st.SlowClosed != n {
		t.Fatalf("SlowClosed = %d, want %d", st.SlowClosed, n)
	}
}

// Over real sockets (parked readers on Linux): a host that stops answering
// pings is closed and its client told HostLeft; the client, which reads and
// so answers pings, stays.
func TestKeepaliveOverSockets(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, &Options{PingInterval: 50 * time.Millisecond})
	host, _ := join(t, srv, url, "room", "host")
	client, _ := join(t, srv, url, "room", "client")
	host.expect(protocol.SessionReady)
	// The host never reads again; the client reads all along, and so
	// answers pings.
	got := make(chan protocol.Message, 16)
	go func() {
		defer close(got)
		for {
			client.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			b, err := wsutil.ReadServerText(client.nc)
			if err != nil {
				return
			}
			var m protocol.Message
			json.Unmarshal(b, &m)
			got <- m
		}
	}()
	if m := <-got; m.State != protocol.HostLeft {
		t.Fatalf("client got %+v, want HostLeft", m)
	}
	// Five more sweeps: the client is pinged, answers, and stays.
	for t0 := srv.tick.Load(); srv.tick.Load() < t0+5; {
		time.Sleep(10 * time.Millisecond)
	}
	if st := srv.Stats(); st.DeadClosed != 1 || st.Connections != 1 {
		t.Fatalf("stats %+v: want the host closed, the client kept", st)
	}
	client.send(protocol.Message{State: protocol.SessionLeave})
	if m := <-got; m.Code != protocol.CodeNotJoined {
		t.Fatalf("client got %+v, want not_joined", m)
	}
	client.nc.Close()
	for range got {
	}
}
