package generate

import (
	"fmt"
	"regexp"
	"strings"
)

// Flavour is the kind of controller Controller writes.
type Flavour int

const (
	// Plain controllers extend the framework-free P2pController of
	// /p2p/p2pstreams.js: they work with nothing else installed.
	Plain Flavour = iota
	// Stimulus controllers extend the adapter's P2pController, imported as
	// "p2pstreams/stimulus" (through the app's import map or its bundler).
	Stimulus
)

// controllerName is the rule of NAME: it becomes a file name, a JS class
// name and a Stimulus identifier, so it stays to lower-case identifiers.
var controllerName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// CheckControllerName says why name cannot name a controller, or nil.
func CheckControllerName(name string) error {
	if !controllerName.MatchString(name) || strings.HasSuffix(name, "_") || strings.Contains(name, "__") {
		return fmt.Errorf("controller name %q: want lower-case letters, digits and single underscores, starting with a letter (like chat or chat_room)", name)
	}
	return nil
}

// ControllerFile returns the file name of controller name: NAME_controller.js.
func ControllerFile(name string) string { return name + "_controller.js" }

// Controller renders NAME_controller.js: every callback stubbed and
// commented, in flavour f.
func Controller(name string, f Flavour) (File, error) {
	if err := CheckControllerName(name); err != nil {
		return File{}, err
	}
	parts := strings.Split(name, "_")
	var class strings.Builder
	for _, p := range parts {
		class.WriteString(strings.ToUpper(p[:1]) + p[1:])
	}
	class.WriteString("Controller")
	data := map[string]string{
		"Name":       name,
		"File":       ControllerFile(name),
		"Class":      class.String(),
		"ID":         strings.Join(parts, "-"),
		"Identifier": strings.Join(parts, "-"), // Stimulus: chat_room_controller.js is "chat-room"
	}
	tmpl := "controller_plain.js.tmpl"
	if f == Stimulus {
		tmpl = "controller_stimulus.js.tmpl"
	}
	b, err := render(tmpl, data)
	if err != nil {
		return File{}, err
	}
	return File{Path: ControllerFile(name), Data: b}, nil
}
