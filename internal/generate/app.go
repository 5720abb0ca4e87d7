package generate

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"github.com/p2pstreams/p2pstreams/internal/demo"
)

// AppOptions say what App writes.
type AppOptions struct {
	// Name is the app's directory and, by default, its module path.
	Name string
	// Module is the module path; default Name.
	Module string
	// Replace, if set, is the absolute path of a local copy of the
	// p2pstreams module: go.mod then requires it and replaces it with that
	// directory (the module is used from there, not downloaded).
	Replace string
	// GoVersion is the go directive; default the go directive of Replace's
	// go.mod, else the version of the Go running the generator.
	GoVersion string
}

var (
	appName    = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	modulePath = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~/-]*$`)
	goVersion  = regexp.MustCompile(`^1\.\d+(\.\d+)?$`)
)

// CheckAppName says why name cannot name an app, or nil.
func CheckAppName(name string) error {
	if !appName.MatchString(name) {
		return fmt.Errorf("app name %q: want lower-case letters, digits, - and _, starting with a letter (it is the directory and the module path)", name)
	}
	return nil
}

// App renders the files of a runnable chat app: go.mod, main.go, the
// templates, the controller and a README, relative to the app's directory.
func App(o AppOptions) ([]File, error) {
	if err := CheckAppName(o.Name); err != nil {
		return nil, err
	}
	if o.Module == "" {
		o.Module = o.Name
	}
	if !modulePath.MatchString(o.Module) || strings.Contains(o.Module, "//") || strings.HasSuffix(o.Module, "/") {
		return nil, fmt.Errorf("module path %q is not a module path", o.Module)
	}
	if o.Replace != "" && !filepath.IsAbs(o.Replace) {
		return nil, fmt.Errorf("replace path %q is not absolute", o.Replace)
	}
	if o.GoVersion == "" {
		o.GoVersion = defaultGoVersion(o.Replace)
	}
	files, err := renderTree("app", o)
	if err != nil {
		return nil, err
	}
	demoFiles, err := demoFiles()
	return append(files, demoFiles...), err
}

// demoFiles are the demo's controller, style and icon, as they are: the app
// looks and behaves like the demo of `p2pstreams serve`.
func demoFiles() ([]File, error) {
	var files []File
	for src, dst := range map[string]string{"chat.js": "static/chat_controller.js", "chat.css": "static/chat.css", "icon.svg": "static/icon.svg"} {
		b, err := fs.ReadFile(demo.Static(), src)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: dst, Data: b})
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// defaultGoVersion is the go directive of replace's go.mod if there is one,
// else the running Go's version, else 1.26 (the module's own minimum).
func defaultGoVersion(replace string) string {
	if replace != "" {
		if v := goDirective(filepath.Join(replace, "go.mod")); v != "" {
			return v
		}
	}
	if v := strings.TrimPrefix(runtime.Version(), "go"); goVersion.MatchString(v) {
		return v
	}
	return "1.26"
}

// goDirective reads the go directive of the go.mod at path, or "".
func goDirective(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok && goVersion.MatchString(strings.TrimSpace(v)) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
