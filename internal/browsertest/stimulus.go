package browsertest

import (
	_ "embed"
	"net/http"
)

// stimulusJS is Stimulus 3.2.2's ESM build (dist/stimulus.js of the npm
// package @hotwired/stimulus, MIT licence beside it), vendored so that the
// Stimulus tests fetch nothing.
//
//go:embed testdata/stimulus/stimulus.js
var stimulusJS []byte

// Stimulus serves Stimulus's ES module, for a page's import map:
// mux.Handle("GET /vendor/stimulus.js", browsertest.Stimulus).
var Stimulus http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Write(stimulusJS)
})
