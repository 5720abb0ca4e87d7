package generate

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrNotModule is returned by Install outside a Go module's root directory.
var ErrNotModule = errors.New("no go.mod here: run install in the root directory of a Go module (or make one: go mod init NAME)")

// ModulePath is the path of the p2pstreams module.
const ModulePath = "github.com/p2pstreams/p2pstreams"

// InstallOptions say what Install writes.
type InstallOptions struct {
	// Dir is the module's root directory, where go.mod is.
	Dir string
	// Templates is the directory, relative to Dir, of the template
	// partial; default "templates".
	Templates string
}

// Installation is what Install renders for a module.
type Installation struct {
	Files   []File // p2pstreams.go and the template partial, relative to Dir
	Package string // the package p2pstreams.go is in
	// HasDependency says that go.mod mentions the p2pstreams module already.
	HasDependency bool
}

// Install renders the wiring of p2pstreams for the Go module in o.Dir:
// p2pstreams.go (a function returning the Server and the template funcs),
// in the package of the directory's Go files (main if there are none), and
// an example template partial. It reads go.mod and the Go files; it writes
// nothing.
func Install(o InstallOptions) (*Installation, error) {
	if o.Templates == "" {
		o.Templates = "templates"
	}
	if c := filepath.ToSlash(filepath.Clean(o.Templates)); filepath.IsAbs(o.Templates) || c == ".." || strings.HasPrefix(c, "../") {
		return nil, fmt.Errorf("templates directory %q must be inside the module", o.Templates)
	}
	mod, err := os.ReadFile(filepath.Join(o.Dir, "go.mod"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotModule
	} else if err != nil {
		return nil, err
	}
	pkg, err := packageName(o.Dir)
	if err != nil {
		return nil, err
	}
	partial := path.Join(filepath.ToSlash(filepath.Clean(o.Templates)), "p2pstreams_room.html")
	data := map[string]string{"Package": pkg, "Partial": partial}
	goFile, err := render("install/p2pstreams.go.tmpl", data)
	if err != nil {
		return nil, err
	}
	html, err := render("install/p2pstreams_room.html.tmpl", data)
	if err != nil {
		return nil, err
	}
	return &Installation{
		Files:         []File{{Path: "p2pstreams.go", Data: goFile}, {Path: partial, Data: html}},
		Package:       pkg,
		HasDependency: strings.Contains(string(mod), ModulePath),
	}, nil
}

// packageName is the package of the non-test Go files in dir, or "main"
// when there are none.
func packageName(dir string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return "", err
	}
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), m, nil, parser.PackageClauseOnly)
		if err != nil {
			return "", fmt.Errorf("reading the package name: %w", err)
		}
		return f.Name.Name, nil
	}
	return "main", nil
}
