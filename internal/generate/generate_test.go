package generate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckControllerName(t *testing.T) {
	for name, ok := range map[string]bool{
		"chat": true, "chat_room": true, "c2": true, "a" + strings.Repeat("b", 63): true,
		"": false, "Chat": false, "2chat": false, "chat-room": false, "chat_": false, "_chat": false,
		"a__b": false, "chat.js": false, "../x": false, "a" + strings.Repeat("b", 64): false, "çhat": false,
	} {
		if err := CheckControllerName(name); (err == nil) != ok {
			t.Errorf("CheckControllerName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestControllerNames(t *testing.T) {
	f, err := Controller("chat_room_two", Stimulus)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != "chat_room_two_controller.js" {
		t.Errorf("path %q", f.Path)
	}
	for _, want := range []string{"class ChatRoomTwoController", `Stimulus.register("chat-room-two", ChatRoomTwoController)`} {
		if !strings.Contains(string(f.Data), want) {
			t.Errorf("lacks %q", want)
		}
	}
	if strings.Contains(string(f.Data), "[[") {
		t.Errorf("an unrendered action is left:\n%s", f.Data)
	}
}

// TestWriteRefusesAsAWhole: one existing file and nothing is written.
func TestWriteRefusesAsAWhole(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("mine"), 0o644)
	err := Write(dir, []File{{"a/a.txt", []byte("new")}, {"b.txt", []byte("new")}})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "b.txt") {
		t.Fatalf("err %v, want ErrExists naming b.txt", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wrote a/ despite the refusal: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "b.txt")); string(b) != "mine" {
		t.Errorf("b.txt = %q", b)
	}
	if err := Write(dir, []File{{"a/a.txt", []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a", "a.txt")); string(b) != "new" {
		t.Errorf("a/a.txt = %q", b)
	}
}

func TestAppOptions(t *testing.T) {
	if _, err := App(AppOptions{Name: "x", Replace: "relative/path"}); err == nil {
		t.Error("a relative replace path: no error")
	}
	repo := t.TempDir()
	os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module github.com/p2pstreams/p2pstreams\n\ngo 1.26.3\n"), 0o644)
	files, err := App(AppOptions{Name: "x", Replace: repo})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.Contains(string(f.Data), "[[") {
			t.Errorf("%s: an unrendered action is left", f.Path)
		}
		if f.Path == "go.mod" && !strings.Contains(string(f.Data), "\ngo 1.26.3\n") {
			t.Errorf("go.mod does not take the replaced module's go version:\n%s", f.Data)
		}
	}
}
