package p2pstreams

import (
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"net/http"
	"strings"
	"sync"

	"github.com/p2pstreams/p2pstreams/client"
)

// clientETags holds a strong validator for each embedded client file (a
// hash of its bytes): browsers revalidate with If-None-Match and get 304
// until the binary carries other files. Embedded files have no mod time, so
// without it every page load downloads them again.
var clientETags = sync.OnceValue(func() map[string]string {
	tags := map[string]string{}
	fs.WalkDir(client.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(client.FS, p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(b)
		tags[p] = `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
		return nil
	})
	return tags
})

// setClientFileHeaders sets the validator, caching rule and content type of
// the client file at path p (a name in client.FS).
func setClientFileHeaders(h http.Header, p string) {
	h.Set("Cache-Control", "no-cache") // revalidate: a new server may bring new files
	if tag := clientETags()[p]; tag != "" {
		h.Set("ETag", tag)
	}
	switch {
	case strings.HasSuffix(p, ".d.ts"):
		h.Set("Content-Type", "text/plain; charset=utf-8") // TypeScript declarations, to read
	case strings.HasSuffix(p, ".js"):
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	}
}
