package p2pstreams

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Over MaxConnsPerIP (or MaxConns), the upgrade is refused with HTTP 503
// too_many_connections; a connection that ends gives its place back.
func TestConnectionLimits(t *testing.T) {
	for _, o := range []Options{{MaxConnsPerIP: 2}, {MaxConns: 2}} {
		srv, url := newTestServer(t, &o)
		a, b := dial(t, url), dial(t, url)
		_ = b
		_, _, _, err := ws.Dial(context.Background(), url)
		var se ws.StatusError
		if !errors.As(err, &se) || int(se) != http.StatusServiceUnavailable {
			t.Errorf("%+v: the third connection: %v, want HTTP 503", o, err)
		}
		if n := srv.Stats().Errors[string(protocol.CodeTooManyConnections)]; n != 1 {
			t.Errorf("too_many_connections counted %d times", n)
		}
		a.nc.Close()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			nc, _, _, err := ws.Dial(context.Background(), url)
			if err == nil {
				nc.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%+v: no place after one connection ended: %v", o, err)
			}
		}
	}
}

func TestClientIP(t *testing.T) {
	srv, err := NewServer(&Options{Secret: testSecret, TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	for _, tc := range []struct{ remote, xff, want string }{
		{"192.0.2.1:5000", "", "192.0.2.1"},
		{"192.0.2.1:5000", "198.51.100.7", "192.0.2.1"}, // not from a trusted proxy: XFF ignored
		{"10.1.2.3:5000", "198.51.100.7", "198.51.100.7"},
		{"10.1.2.3:5000", "203.0.113.9, 198.51.100.7, 10.9.9.9", "198.51.100.7"}, // the first untrusted from the right
		{"10.1.2.3:5000", "", "10.1.2.3"},
		{"10.1.2.3:5000", "garbage, 10.2.2.2", "10.2.2.2"}, // nothing before a malformed entry is believed
		{"[::1]:5000", "198.51.100.7", "198.51.100.7"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := srv.ClientIP(r); got.String() != tc.want {
			t.Errorf("remote %s, X-Forwarded-For %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}
