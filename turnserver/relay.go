package turnserver

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pion/turn/v5"

	"github.com/p2pstreams/p2pstreams/turncred"
)

var (
	errQuota  = errors.New("turnserver: allocation quota reached")
	errNoTCP  = errors.New("turnserver: TCP relays (RFC 6062) are not offered")
	errNoPort = errors.New("turnserver: no free relay port in the range")
)

// relayGenerator makes the relay socket of each allocation (UDP only). It
// is where the quotas are enforced (the allocation's user id is the whole
// username, see Server.auth) and where an allocation is bound to its
// credential: the socket closes when the credential expires, which ends
// the allocation in pion/turn.
type relayGenerator struct {
	s          *Server
	listenHost string
}

func (g *relayGenerator) Validate() error { return nil }

func (g *relayGenerator) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	exp, user, err := turncred.Parse(c.UserID)
	if err != nil {
		return nil, nil, err
	}
	if !g.s.quota.take(user) {
		return nil, nil, errQuota
	}
	pc, err := g.listen(c.Network, c.RequestedPort)
	if err != nil {
		g.s.quota.give(user)
		return nil, nil, err
	}
	r := &relayConn{PacketConn: pc, release: func() { g.s.quota.give(user) }}
	r.timer = time.AfterFunc(time.Until(exp), func() { r.Close() })
	addr := &net.UDPAddr{IP: g.s.cfg.PublicIP, Port: pc.LocalAddr().(*net.UDPAddr).Port}
	return r, addr, nil
}

// listen opens a relay socket on the requested port, a port of the
// configured range, or any port.
func (g *relayGenerator) listen(network string, port int) (net.PacketConn, error) {
	cfg := g.s.cfg
	if port != 0 || cfg.RelayPortMin == 0 {
		return net.ListenPacket(network, net.JoinHostPort(g.listenHost, strconv.Itoa(port)))
	}
	// Start at a port derived from the clock, then walk the range once.
	n := int(cfg.RelayPortMax-cfg.RelayPortMin) + 1
	start := int(time.Now().UnixNano() % int64(n))
	for i := range n {
		p := int(cfg.RelayPortMin) + (start+i)%n
		pc, err := net.ListenPacket(network, net.JoinHostPort(g.listenHost, strconv.Itoa(p)))
		if err == nil {
			return pc, nil
		}
	}
	return nil, errNoPort
}

func (g *relayGenerator) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errNoTCP
}

func (g *relayGenerator) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, errNoTCP
}

// relayConn is an allocation's relay socket, which gives its quota back
// once when it closes.
type relayConn struct {
	net.PacketConn
	timer   *time.Timer
	once    sync.Once
	release func()
}

func (r *relayConn) Close() error {
	err := r.PacketConn.Close()
	r.once.Do(func() {
		r.timer.Stop()
		r.release()
	})
	return err
}

// quota counts live allocations per user and in total.
type quota struct {
	perUser, max int
	mu           sync.Mutex
	users        map[string]int
	all          int
}

func newQuota(perUser, max int) *quota {
	return &quota{perUser: perUser, max: max, users: make(map[string]int)}
}

// room reports whether the username's user may allocate one more (for the
// early 486 answer; take is the binding check).
func (q *quota) room(username string) bool {
	_, user, err := turncred.Parse(username)
	if err != nil {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.all < q.max && q.users[user] < q.perUser
}

func (q *quota) take(user string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.all >= q.max || q.users[user] >= q.perUser {
		return false
	}
	q.all++
	q.users[user]++
	return true
}

func (q *quota) give(user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.all--
	if q.users[user]--; q.users[user] <= 0 {
		delete(q.users, user)
	}
}

func (q *quota) total() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.all
}
