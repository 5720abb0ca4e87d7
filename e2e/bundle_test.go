package e2e

import (
	"fmt"
	"html/template"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/testenv"
)

// BundleTools is the npm command that installs the bundler and the type
// checker TestBundledClient uses (.ci/run runs it before the tests).
const BundleTools = "npm install --prefix e2e/testdata/bundle --no-save --no-package-lock --no-audit --no-fund esbuild@0.28.2 typescript@7.0.2"

// bundleTool returns the path of an npm tool installed by BundleTools, or
// skips t loudly (fails it when P2PSTREAMS_STRICT=1).
func bundleTool(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "bundle", "node_modules", ".bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("SKIPPED: %s not installed; run: %s (.ci/run does)", name, BundleTools)
		if testenv.Strict() {
			t.Fatal(msg + " [P2PSTREAMS_STRICT=1 makes this a failure]")
		}
		fmt.Fprintln(os.Stderr, "e2e: "+msg)
		t.Skip(msg)
	}
	return p
}

// run runs a command in dir and returns its standard output.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// buildBundleApp packs client/ with npm, installs the tarball into a copy of
// testdata/bundle (offline), type-checks it with tsc --strict and bundles it
// with esbuild as an ES module and as an IIFE. It returns the dist directory.
func buildBundleApp(t *testing.T) string {
	t.Helper()
	esbuild, tsc := bundleTool(t, "esbuild"), bundleTool(t, "tsc")
	npm := testenv.Need(t, "npm", "npm")
	tmp := t.TempDir()
	clientDir, _ := filepath.Abs(filepath.Join("..", "client"))
	tarball := strings.TrimSpace(run(t, tmp, npm, "pack", "--silent", "--pack-destination", tmp, clientDir))
	tarball = filepath.Join(tmp, filepath.Base(tarball))

	appDir := filepath.Join(tmp, "app")
	if err := os.Mkdir(appDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"package.json", "tsconfig.json", "app.ts", "stimulus_entry.js"} { // not the tools' node_modules
		b, err := os.ReadFile(filepath.Join("testdata", "bundle", f))
		if err == nil {
			err = os.WriteFile(filepath.Join(appDir, f), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	run(t, appDir, npm, "install", "--offline", "--no-audit", "--no-fund", "--no-package-lock", "--no-save", tarball)
	if _, err := os.Stat(filepath.Join(appDir, "node_modules", "p2pstreams", "p2pstreams.d.ts")); err != nil {
		t.Fatalf("the tarball installed no types: %v", err)
	}
	run(t, appDir, tsc, "-p", "tsconfig.json")
	run(t, appDir, esbuild, "app.ts", "--bundle", "--format=esm", "--outfile=dist/app.esm.js", "--log-level=warning")
	run(t, appDir, esbuild, "app.ts", "--bundle", "--format=iife", "--outfile=dist/app.iife.js", "--log-level=warning")
	run(t, appDir, esbuild, "stimulus_entry.js", "--bundle", "--format=esm", "--external:@hotwired/stimulus",
		"--outfile=dist/stimulus.js", "--log-level=warning")
	return filepath.Join(appDir, "dist")
}

const bundlePage = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>
{{p2pFrameStart .Frame}}<div id="chat"><p id="status">starting</p><div id="lines"></div></div>{{p2pFrameEnd}}
{{if .ESM}}<script type="module" src="/static/dist/app.esm.js"></script>{{else}}<script src="/static/dist/app.iife.js"></script>{{end}}
</body></html>`

// TestBundledClient: the npm package, bundled from /static/dist/, finds the
// signaling endpoint by itself; an ES-module page and an IIFE page chat;
// a frame pointed at a wrong endpoint reports a coded error instead of
// negotiating forever.
func TestBundledClient(t *testing.T) {
	long(t)
	dist := buildBundleApp(t)
	a := startApp(t, func(srv *p2pstreams.Server, mux *http.ServeMux) {
		tmpl := template.Must(template.New("page").Funcs(srv.TemplateFuncs()).Parse(bundlePage))
		mux.Handle("GET /static/dist/", http.StripPrefix("/static/dist/", http.FileServer(http.Dir(dist))))
		mux.HandleFunc("GET /bundle", func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			err := tmpl.Execute(w, map[string]any{
				"ESM":   q.Get("kind") == "esm",
				"Frame": p2pstreams.FrameOptions{Session: "bundle", Peer: p2pstreams.PeerID(q.Get("name")), URL: q.Get("url")},
			})
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
			}
		})
	})
	open := func(query string) *browsertest.Page {
		p := a.b.NewPage(t)
		p.Navigate(a.url + "/bundle?" + query)
		return p
	}
	alice := open("name=alice&kind=esm")
	alice.WaitText("alice connected as host")
	bob := open("name=bob&kind=iife")
	bob.WaitText("bob connected")
	alice.Eval(`say("hi from the ES module bundle")`, nil)
	bob.Eval(`say("hi from the IIFE bundle")`, nil)
	for _, p := range []*browsertest.Page{alice, bob} {
		p.WaitText("alice: hi from the ES module bundle")
		p.WaitText("bob: hi from the IIFE bundle")
	}

	lost := open("name=carol&kind=iife&url=/nowhere/")
	lost.WaitText("error signaling_unreachable")
}
