package p2pstreams_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/p2pstreams/p2pstreams"
)

// The client files carry a validator: a second load is a 304 without a body,
// and each kind of file has its own content type.
func TestClientFilesRevalidate(t *testing.T) {
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: []byte("client-files-test-secret")})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	types := map[string]string{
		"p2pstreams.js":   "text/javascript; charset=utf-8",
		"stimulus.js":     "text/javascript; charset=utf-8",
		"p2pstreams.d.ts": "text/plain; charset=utf-8",
	}
	tags := map[string]bool{}
	for name, ctype := range types {
		res, err := http.Get(hs.URL + "/p2p/" + name)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		tag := res.Header.Get("ETag")
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != ctype || !strings.HasPrefix(tag, `"`) {
			t.Fatalf("%s: %d, Content-Type %q, ETag %q; want 200, %q, a strong ETag", name, res.StatusCode, res.Header.Get("Content-Type"), tag, ctype)
		}
		if tags[tag] {
			t.Errorf("%s: ETag %s shared with another file", name, tag)
		}
		tags[tag] = true

		req, _ := http.NewRequest("GET", hs.URL+"/p2p/"+name, nil)
		req.Header.Set("If-None-Match", tag)
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match %s: %d, want 304", name, tag, res.StatusCode)
		}
	}
}
