package p2pstreams

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// limited reports whether connection limits are set; without them the
// server keeps no per-client accounting at all.
func (s *Server) limited() bool { return s.o.MaxConns > 0 || s.o.MaxConnsPerIP > 0 }

// admit reserves a place for a new connection from r's client, or answers
// it with HTTP 503 too_many_connections and returns false. A place taken is
// given back by release (or, once the connection is bound, by remove).
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (netip.Addr, bool) {
	ip := s.ClientIP(r)
	s.mu.Lock()
	total, mine := s.admitted, s.perIP[ip]
	ok := (s.o.MaxConns <= 0 || total < s.o.MaxConns) && (s.o.MaxConnsPerIP <= 0 || mine < s.o.MaxConnsPerIP)
	if ok {
		if s.perIP == nil {
			s.perIP = make(map[netip.Addr]int)
			s.connIP = make(map[*conn]netip.Addr)
		}
		s.admitted++
		s.perIP[ip]++
	}
	s.mu.Unlock()
	if !ok {
		s.stats.refused(protocol.CodeTooManyConnections)
		s.log.Info("connection refused", "code", protocol.CodeTooManyConnections, "client", ip)
		w.Header().Set("Retry-After", "5")
		http.Error(w, string(protocol.CodeTooManyConnections)+": too many connections from this client or in all", http.StatusServiceUnavailable)
	}
	return ip, ok
}

// bindIP records the client IP of c, whose place remove gives back.
func (s *Server) bindIP(c *conn, ip netip.Addr) {
	s.mu.Lock()
	s.connIP[c] = ip
	s.mu.Unlock()
}

// releaseLocked gives back the place of a connection from ip; s.mu is held.
func (s *Server) releaseLocked(ip netip.Addr) {
	s.admitted--
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

func (s *Server) release(ip netip.Addr) {
	s.mu.Lock()
	s.releaseLocked(ip)
	s.mu.Unlock()
}

// ClientIP returns the IP address of r's client: the peer address, or,
// when that is one of Options.TrustedProxies, the last address in
// X-Forwarded-For that is not a trusted proxy (each proxy appends the
// address it got the request from, so only the trusted ones' entries are
// believed).
func (s *Server) ClientIP(r *http.Request) netip.Addr {
	ip := parseIP(r.RemoteAddr)
	if !s.trusted(ip) {
		return ip
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := parseIP(strings.TrimSpace(hops[i]))
		if !h.IsValid() {
			break // a malformed entry: trust nothing before it
		}
		ip = h
		if !s.trusted(h) {
			break
		}
	}
	return ip
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.o.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseIP parses "ip", "ip:port" or "[ip]:port", unmapping IPv4-in-IPv6.
func parseIP(s string) netip.Addr {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	ip, _ := netip.ParseAddr(s)
	return ip.Unmap()
}
