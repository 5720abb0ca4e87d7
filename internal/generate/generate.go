// Package generate writes the files of the p2pstreams generators (the
// commands `new`, `install` and `controller`): a starter app, the wiring of
// an existing app, a controller. It only renders and writes files: it never
// runs the go command and never touches the network.
//
// Invariant: a generator never overwrites a file. Write checks every path
// first and writes nothing when one exists, so a refused run leaves the
// directory as it was.
package generate

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// The templates use [[ ]] as delimiters, so that the html/template actions
// ({{p2pFrameStart .Frame}}) of the generated files are written as they are.
//
//go:embed templates
var templates embed.FS

// ErrExists is returned (wrapped, with the paths) when a file to write exists.
var ErrExists = errors.New("exists, not overwritten")

// File is one generated file; Path is relative to the directory it goes in
// and uses slashes.
type File struct {
	Path string
	Data []byte
}

// Write writes files under dir, creating directories as needed. If any of
// them exists it writes nothing and returns an error wrapping ErrExists
// that names them all.
func Write(dir string, files []File) error {
	var exist []string
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if _, err := os.Lstat(p); err == nil {
			exist = append(exist, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if len(exist) > 0 {
		return fmt.Errorf("%s: %w", strings.Join(exist, ", "), ErrExists)
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		// O_EXCL: a file that appeared since the check is still not overwritten.
		w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = w.Write(f.Data)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// render executes the embedded template templates/name with data.
func render(name string, data any) ([]byte, error) {
	src, err := templates.ReadFile("templates/" + name)
	if err != nil {
		return nil, err
	}
	t, err := template.New(name).Delims("[[", "]]").Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// renderTree renders every template under templates/root into files at the
// same relative paths without the .tmpl suffix.
func renderTree(root string, data any) ([]File, error) {
	var files []File
	err := fs.WalkDir(templates, "templates/"+root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, "templates/")
		b, err := render(rel, data)
		if err != nil {
			return err
		}
		files = append(files, File{Path: strings.TrimSuffix(strings.TrimPrefix(rel, root+"/"), ".tmpl"), Data: b})
		return nil
	})
	return files, err
}
