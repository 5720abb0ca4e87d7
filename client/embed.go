// Package client holds the browser client of p2pstreams (ESM JavaScript and
// its TypeScript types), embedded so that the Go server can serve it: users
// need no Node and no bundler.
package client

import "embed"

// FS holds the client files. The server serves them by name below the path
// where it is mounted, e.g. /p2p/p2pstreams.js.
//
//go:embed *.js *.d.ts
var FS embed.FS
