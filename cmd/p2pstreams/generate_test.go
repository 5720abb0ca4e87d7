package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2pstreams/p2pstreams/internal/generate"
	"github.com/p2pstreams/p2pstreams/internal/testenv"
)

// callbacks are the controller callbacks of the Rails gem p2p_streams_channel; every generated controller
// stubs them all.
var callbacks = []string{"p2pNegotiating()", "p2pConnecting()", "p2pConnected()", "p2pDisconnected(", "p2pClosed()", "p2pError(", "p2pReceivedMessage("}

// gen runs a generator command as main does and returns its stdout.
func gen(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	if err != nil {
		t.Logf("p2pstreams %s: %v; stderr:\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), err
}

// repoRoot is the p2pstreams module's directory (this package is two below).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || !strings.HasPrefix(string(b), "module "+generate.ModulePath+"\n") {
		t.Fatalf("%s is not the p2pstreams module: %v", dir, err)
	}
	return dir
}

// goCmd runs the go command in dir, offline: the module cache has what the
// repository needs, and the generated go.mod replaces p2pstreams with it.
// GOSUMDB=off: a generated go.sum starts empty, and offline the checksum
// database cannot be asked; the cached modules were verified against the
// repository's go.sum when they were downloaded (.ci/run: go mod download).
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOSUMDB=off", "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// nodeCheck parses a generated ES module with node --check (as .mjs, so that
// node reads it as a module whatever its version).
func nodeCheck(t *testing.T, path string) {
	t.Helper()
	node := testenv.Need(t, "node (to parse the generated JavaScript)", "node")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mjs := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(path), ".js")+".mjs")
	if err := os.WriteFile(mjs, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "--check", mjs).CombinedOutput(); err != nil {
		t.Fatalf("node --check %s: %v\n%s", path, err, out)
	}
}

func TestControllerFlavours(t *testing.T) {
	for _, tc := range []struct {
		flags   []string
		import_ string
		more    []string
	}{
		{nil, `import { P2pController } from "/p2p/p2pstreams.js"`, []string{"new ChatRoomController(document.getElementById(\"chat-room\"))"}},
		{[]string{"--plain"}, `import { P2pController } from "/p2p/p2pstreams.js"`, nil},
		{[]string{"--stimulus"}, `import { P2pController } from "p2pstreams/stimulus"`, []string{`data-controller="chat-room"`, `Stimulus.register("chat-room", ChatRoomController)`}},
	} {
		t.Run(strings.Join(append([]string{"default"}, tc.flags...), ""), func(t *testing.T) {
			dir := t.TempDir()
			out, err := gen(t, append([]string{"controller", "chat_room", "--dir", dir}, tc.flags...)...)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "chat_room_controller.js")
			if !strings.Contains(out, path) {
				t.Errorf("output %q does not name %s", out, path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			src := string(b)
			for _, want := range append(append([]string{tc.import_, "export default class ChatRoomController extends P2pController", `case "Data":`, `case "Data.Connection.State":`, "p2pSendMessage"}, callbacks...), tc.more...) {
				if !strings.Contains(src, want) {
					t.Errorf("controller lacks %q:\n%s", want, src)
				}
			}
			nodeCheck(t, path)
		})
	}
}

func TestControllerFlagsAfterOrBeforeName(t *testing.T) {
	dir := t.TempDir()
	if _, err := gen(t, "controller", "--stimulus", "--dir", dir, "chat"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "chat_controller.js"))
	if err != nil || !strings.Contains(string(b), `from "p2pstreams/stimulus"`) {
		t.Fatalf("flags before the name: %v\n%s", err, b)
	}
}

func TestControllerRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"Chat", "1chat", "chat-room", "chat_", "a__b", "../chat", "chat.js", "c" + strings.Repeat("x", 64)} {
		if _, err := gen(t, "controller", name, "--dir", dir); err == nil || !strings.Contains(err.Error(), "controller name") {
			t.Errorf("name %q: err %v, want a controller name error", name, err)
		}
	}
	if _, err := gen(t, "controller", "--dir", dir); !errors.Is(err, errUsage) {
		t.Errorf("no name: err %v, want errUsage", err)
	}
	if _, err := gen(t, "controller", "a", "b", "--dir", dir); !errors.Is(err, errUsage) {
		t.Errorf("two names: err %v, want errUsage", err)
	}
	if _, err := gen(t, "controller", "chat", "--stimulus", "--plain", "--dir", dir); err == nil {
		t.Error("--stimulus with --plain: no error")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("refused runs wrote %v", ents)
	}

	mine := filepath.Join(dir, "chat_controller.js")
	if err := os.WriteFile(mine, []byte("// mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := gen(t, "controller", "chat", "--dir", dir); err == nil || !strings.Contains(err.Error(), "exists, not overwritten") {
		t.Errorf("existing file: err %v", err)
	}
	if b, _ := os.ReadFile(mine); string(b) != "// mine\n" {
		t.Errorf("existing file overwritten: %q", b)
	}
}

// TestNewBuilds writes an app, then builds and vets it the way its README
// says (go mod tidy, go build), and parses its controller.
func TestNewBuilds(t *testing.T) {
	dir := t.TempDir()
	out, err := gen(t, "new", "chatapp", "--replace", repoRoot(t), "--dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "chatapp")
	for _, f := range []string{"go.mod", "main.go", "README.md", "templates/index.html", "templates/room.html", "templates/style.html", "static/chat_controller.js", "static/chat.css", "static/icon.svg"} {
		p := filepath.Join(app, filepath.FromSlash(f))
		if _, err := os.Stat(p); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
		if !strings.Contains(out, p) {
			t.Errorf("output does not name %s:\n%s", p, out)
		}
	}
	mod, _ := os.ReadFile(filepath.Join(app, "go.mod"))
	for _, want := range []string{"module chatapp\n", "require " + generate.ModulePath + " v0.0.0", "replace " + generate.ModulePath + " => " + repoRoot(t)} {
		if !strings.Contains(string(mod), want) {
			t.Errorf("go.mod lacks %q:\n%s", want, mod)
		}
	}
	room, _ := os.ReadFile(filepath.Join(app, "templates", "room.html"))
	if !strings.Contains(string(room), "{{p2pFrameStart .Frame}}") {
		t.Errorf("room.html does not render the frame:\n%s", room)
	}
	goCmd(t, app, "mod", "tidy")
	goCmd(t, app, "build", "-o", filepath.Join(t.TempDir(), "chatapp"), ".")
	goCmd(t, app, "vet", "./...")
	nodeCheck(t, filepath.Join(app, "static", "chat_controller.js"))
}

func TestNewModuleFlag(t *testing.T) {
	dir := t.TempDir()
	if _, err := gen(t, "new", "site", "--module", "example.com/me/site", "--dir", dir); err != nil {
		t.Fatal(err)
	}
	mod, _ := os.ReadFile(filepath.Join(dir, "site", "go.mod"))
	if !strings.HasPrefix(string(mod), "module example.com/me/site\n") || strings.Contains(string(mod), "replace") {
		t.Errorf("go.mod:\n%s", mod)
	}
}

func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"Chat", "1app", "a/b", "..", "app.go", ""} {
		if _, err := gen(t, "new", name, "--dir", dir); err == nil {
			t.Errorf("app name %q: no error", name)
		}
	}
	if _, err := gen(t, "new", "x", "--module", "bad path", "--dir", dir); err == nil {
		t.Error("module path with a space: no error")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("refused runs wrote %v", ents)
	}
	if err := os.Mkdir(filepath.Join(dir, "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := gen(t, "new", "taken", "--dir", dir); err == nil || !strings.Contains(err.Error(), "exists, not overwritten") {
		t.Errorf("existing directory: err %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "taken")); len(ents) != 0 {
		t.Errorf("wrote into an existing directory: %v", ents)
	}
}

// siteMain is a user's existing app: it uses what install writes, renders
// the partial with a frame and prints it.
const siteMain = `package main

import (
	"fmt"
	"html/template"
	"os"

	"github.com/p2pstreams/p2pstreams"
)

func main() {
	srv, funcs, err := newP2PStreams()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpl := template.Must(template.New("").Funcs(funcs).ParseFiles("templates/p2pstreams_room.html"))
	err = tmpl.ExecuteTemplate(os.Stdout, "p2pstreams_room", p2pstreams.FrameOptions{Session: "room", Peer: "alice"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = srv
}
`

// newSite makes a Go module with a main package, as a user's app.
func newSite(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/site\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(siteMain), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestInstallBuilds installs into a module, adds the dependency as the
// output says (here with a replace, offline), and runs the app: the wiring
// compiles and vets, and the partial renders a signed frame.
func TestInstallBuilds(t *testing.T) {
	site := newSite(t)
	out, err := gen(t, "install", "--dir", site)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wrote " + filepath.Join(site, "p2pstreams.go"), "wrote " + filepath.Join(site, "templates", "p2pstreams_room.html"), "go get " + generate.ModulePath + "@latest", "newP2PStreams()",
		"P2PSTREAMS_SECRET", "p2pstreams controller chat --dir static"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	goCmd(t, site, "mod", "edit", "-require="+generate.ModulePath+"@v0.0.0", "-replace="+generate.ModulePath+"="+repoRoot(t))
	goCmd(t, site, "mod", "tidy")
	goCmd(t, site, "vet", "./...")
	bin := filepath.Join(t.TempDir(), "site")
	goCmd(t, site, "build", "-o", bin, ".")

	cmd := exec.Command(bin)
	cmd.Dir = site
	cmd.Env = append(os.Environ(), "P2PSTREAMS_SECRET=0123456789abcdef0123")
	page, err := cmd.Output()
	if err != nil {
		t.Fatalf("the installed app: %v\n%s", err, page)
	}
	for _, want := range []string{`import ChatController from "/static/chat_controller.js"`, `<p2p-frame token="`, `<div id="chat">`, "</p2p-frame>"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("rendered partial lacks %q:\n%s", want, page)
		}
	}
	// Without P2PSTREAMS_SECRET it starts too, on a random secret, and says so.
	cmd = exec.Command(bin)
	cmd.Dir = site
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "P2PSTREAMS_SECRET=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if page, err := cmd.Output(); err != nil || !strings.Contains(string(page), `<p2p-frame token="`) ||
		!strings.Contains(stderr.String(), "P2PSTREAMS_SECRET is not set") {
		t.Errorf("the installed app without P2PSTREAMS_SECRET: %v, stderr %q", err, stderr.String())
	}

	// The dependency is there now: a second install (with --print) does not
	// ask for it again.
	out, err = gen(t, "install", "--print", "--dir", site)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "go get") {
		t.Errorf("asks for the dependency it has:\n%s", out)
	}
}

// TestInstallPackage writes p2pstreams.go in the package of the directory.
func TestInstallPackage(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/web\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "web_test.go"), []byte("package web_test\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "web.go"), []byte("package web\n"), 0o644)
	if _, err := gen(t, "install", "--dir", dir, "--templates", "views"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "p2pstreams.go"))
	if !strings.Contains(string(b), "\npackage web\n") {
		t.Errorf("p2pstreams.go is not in package web:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "views", "p2pstreams_room.html")); err != nil {
		t.Error(err)
	}
}

func TestInstallPrintWritesNothing(t *testing.T) {
	site := newSite(t)
	out, err := gen(t, "install", "--print", "--dir", site)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"---- " + filepath.Join(site, "p2pstreams.go") + " ----", "func newP2PStreams()", `{{define "p2pstreams_room"}}`, "go get " + generate.ModulePath} {
		if !strings.Contains(out, want) {
			t.Errorf("--print lacks %q:\n%s", want, out)
		}
	}
	if ents, _ := os.ReadDir(site); len(ents) != 2 {
		t.Errorf("--print wrote files: %v", ents)
	}
}

func TestInstallRefuses(t *testing.T) {
	if _, err := gen(t, "install", "--dir", t.TempDir()); !errors.Is(err, generate.ErrNotModule) {
		t.Errorf("outside a module: err %v, want ErrNotModule", err)
	}
	site := newSite(t)
	if _, err := gen(t, "install", "--dir", site, "--templates", "../out"); err == nil {
		t.Error("templates outside the module: no error")
	}
	mine := filepath.Join(site, "p2pstreams.go")
	os.WriteFile(mine, []byte("package main\n// mine\n"), 0o644)
	if _, err := gen(t, "install", "--dir", site); err == nil || !strings.Contains(err.Error(), "exists, not overwritten") {
		t.Errorf("existing p2pstreams.go: err %v", err)
	}
	if b, _ := os.ReadFile(mine); string(b) != "package main\n// mine\n" {
		t.Errorf("p2pstreams.go overwritten: %q", b)
	}
	if _, err := os.Stat(filepath.Join(site, "templates")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused install wrote the partial anyway: %v", err)
	}
	if _, err := gen(t, "install", "extra", "--dir", site); err == nil {
		t.Error("a positional argument: no error")
	}
}
