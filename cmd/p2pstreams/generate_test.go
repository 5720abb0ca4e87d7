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

// callbacks are the seed's controller callbacks; every generated controller
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
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
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
		{[]string{"--stimulus"}, `import { P2pController } from "p2p"`, []string{`data-controller="chat-room"`, `Stimulus.register("chat-room", ChatRoomController)`}},
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
	if err != nil || !strings.Contains(string(b), `from "p2p"`) {
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
	for _, f := range []string{"go.mod", "main.go", "README.md", "templates/index.html", "templates/room.html", "templates/style.html", "static/chat_controller.js"} {
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
