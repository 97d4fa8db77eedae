// Package jsonnet evaluates the Jsonnet files of an Argo CD directory app
// the way Argo CD's repo-server does (makeJsonnetVM in
// reposerver/repository/repository.go), confined to the repository: top-level
// arguments and external variables (code or string), library paths relative
// to the repository root, the app directory first on the import path, and
// every import read through an os.Root, so that neither a "../" path nor a
// symlink reaches outside the repository.
//
// It has no limits of its own: a Jsonnet program can loop or allocate without
// end, so callers run Evaluate in a child process they can stop (see
// manifests.HelmSandbox).
package jsonnet

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	gojsonnet "github.com/google/go-jsonnet"
)

// Var is one Argo CD JsonnetVar: a string, or Jsonnet code when Code is set.
type Var struct {
	Name  string
	Value string
	Code  bool
}

// Job is one directory app's Jsonnet.
type Job struct {
	// Root is the repository root, absolute; nothing outside it is read.
	Root string
	// Dir is the app directory, relative to Root (slash-separated).
	Dir string
	// Files are the .jsonnet files to evaluate, relative to Root.
	Files []string
	TLAs  []Var
	Ext   []Var
	// Libs are library directories relative to Root, searched after Dir.
	Libs []string
	// MaxFileSize bounds one imported file (0: no bound).
	MaxFileSize int64
}

// Output is the JSON one file evaluated to.
type Output struct {
	File string
	JSON string
	// Imports are the files, relative to Root, that evaluating this file
	// and those before it in the job looked for, found or not (an import
	// is searched for in several directories): what the output depends on.
	Imports []string
}

// ErrOutsideRepo marks an import (or library path) that leads out of the
// repository.
var ErrOutsideRepo = errors.New("outside the repository")

// Evaluate evaluates every file of the job and returns their JSON.
func Evaluate(job Job) ([]Output, error) {
	root, err := os.OpenRoot(job.Root)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	jpaths := []string{cleanRel(job.Dir)}
	for _, l := range job.Libs {
		rel := cleanRel(l)
		if !filepath.IsLocal(filepath.FromSlash(rel)) && rel != "." {
			return nil, fmt.Errorf("directory.jsonnet.libs %q: %w", l, ErrOutsideRepo)
		}
		jpaths = append(jpaths, rel)
	}
	imp := &importer{root: root, jpaths: jpaths, cache: map[string]cached{}, maxSize: job.MaxFileSize}
	var out []Output
	for _, f := range job.Files {
		vm := gojsonnet.MakeVM()
		for _, v := range job.TLAs {
			if v.Code {
				vm.TLACode(v.Name, v.Value)
			} else {
				vm.TLAVar(v.Name, v.Value)
			}
		}
		for _, v := range job.Ext {
			if v.Code {
				vm.ExtCode(v.Name, v.Value)
			} else {
				vm.ExtVar(v.Name, v.Value)
			}
		}
		vm.Importer(imp)
		js, err := vm.EvaluateFile(cleanRel(f))
		if err != nil {
			return nil, err
		}
		out = append(out, Output{File: f, JSON: js, Imports: append([]string(nil), imp.probed...)})
	}
	return out, nil
}

type cached struct {
	contents gojsonnet.Contents
	err      error
}

// importer is go-jsonnet's FileImporter (same search order: the importing
// file's directory, then the library paths from last to first) over an
// os.Root. Paths are slash-separated and relative to the repository root.
type importer struct {
	root    *os.Root
	jpaths  []string
	cache   map[string]cached
	maxSize int64
	// probed lists every path read or looked for, in order.
	probed []string
}

func (im *importer) Import(importedFrom, importedPath string) (gojsonnet.Contents, string, error) {
	dir := path.Dir(importedFrom)
	if importedFrom == "" {
		dir = "."
	}
	dirs := []string{dir}
	for i := len(im.jpaths) - 1; i >= 0; i-- {
		dirs = append(dirs, im.jpaths[i])
	}
	for _, d := range dirs {
		rel, err := im.resolve(d, importedPath)
		if err != nil {
			return gojsonnet.Contents{}, "", err
		}
		c, err := im.read(rel)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return gojsonnet.Contents{}, "", err
		}
		return c, rel, nil
	}
	return gojsonnet.Contents{}, "", fmt.Errorf("couldn't open import %q: no match locally or in the Jsonnet library paths", importedPath)
}

// resolve makes importedPath, seen from dir, a path relative to the root,
// or refuses it when it leaves the repository.
func (im *importer) resolve(dir, importedPath string) (string, error) {
	p := importedPath
	if filepath.IsAbs(p) {
		rel, err := filepath.Rel(im.root.Name(), p)
		if err != nil || !filepath.IsLocal(rel) {
			return "", fmt.Errorf("import %q: %w", importedPath, ErrOutsideRepo)
		}
		return filepath.ToSlash(rel), nil
	}
	rel := path.Clean(path.Join(dir, p))
	if rel != "." && !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", fmt.Errorf("import %q: %w", importedPath, ErrOutsideRepo)
	}
	return rel, nil
}

func (im *importer) read(rel string) (gojsonnet.Contents, error) {
	if c, ok := im.cache[rel]; ok {
		return c.contents, c.err
	}
	im.probed = append(im.probed, rel)
	c := cached{}
	f, err := im.root.Open(filepath.FromSlash(rel))
	if err == nil {
		var data []byte
		r := io.Reader(f)
		if im.maxSize > 0 {
			r = io.LimitReader(f, im.maxSize+1)
		}
		data, err = io.ReadAll(r)
		f.Close()
		if err == nil && im.maxSize > 0 && int64(len(data)) > im.maxSize {
			err = fmt.Errorf("%s: larger than %d bytes", rel, im.maxSize)
		}
		c.contents = gojsonnet.MakeContentsRaw(data)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if strings.Contains(err.Error(), "path escapes from parent") {
			err = fmt.Errorf("%s: %w (a symlink leads out)", rel, ErrOutsideRepo)
		} else if errors.Is(err, syscall.EISDIR) {
			err = fmt.Errorf("%s: is a directory", rel)
		}
	}
	c.err = err
	im.cache[rel] = c
	return c.contents, c.err
}

func cleanRel(p string) string {
	p = strings.Trim(filepath.ToSlash(p), "/")
	if p == "" {
		return "."
	}
	return path.Clean(p)
}
