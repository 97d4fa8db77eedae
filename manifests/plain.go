package manifests

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// renderPlain reads every YAML and JSON manifest of a directory app. A bad
// file is recorded and the other files are still read.
func (r *Repo) renderPlain(ctx context.Context, dir string, out *Rendered) {
	app := out.App
	include, err := compileGlobs(app.Directory.Include)
	if err != nil {
		out.Err = &FileError{File: app.Path, Err: err}
		return
	}
	exclude, err := compileGlobs(app.Directory.Exclude)
	if err != nil {
		out.Err = &FileError{File: app.Path, Err: err}
		return
	}
	var files []string
	var errs []error
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, &FileError{File: r.rel(p), Err: err})
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() {
			if p == dir {
				return nil
			}
			// Subdirectories that are apps of their own (a chart, a
			// kustomization) are rendered as those apps, not as YAML here.
			if skipDir(d, false) || !app.Directory.Recurse || detectKind(p) == KindHelm || kustomizationFile(p) != "" {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || !isManifestFile(d.Name()) {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if (include != nil && !include(rel)) || (exclude != nil && exclude(rel)) {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if walkErr != nil {
		errs = append(errs, walkErr)
	}
	sort.Strings(files)
	for _, f := range files {
		res, err := r.readManifests(f)
		out.Resources = append(out.Resources, res...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	out.Err = errors.Join(errs...)
}

// readManifests parses one repository file into objects with exact lines.
func (r *Repo) readManifests(abs string) ([]Resource, error) {
	rel := r.rel(abs)
	data, err := r.readFile(abs)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &FileError{File: rel, Err: err}
	}
	out, err := DecodeManifests(data, DecodeOptions{File: rel, MaxNodes: r.opts.MaxDocumentNodes})
	for i := range out {
		out[i].exactLines = true
	}
	return out, err
}

// compileGlobs compiles an Argo CD directory include/exclude pattern:
// path.Match globs with {a,b} alternatives. Empty means no filter.
func compileGlobs(pattern string) (func(string) bool, error) {
	if pattern == "" {
		return nil, nil
	}
	alts := expandBraces(pattern)
	for _, a := range alts {
		if _, err := path.Match(a, ""); err != nil {
			return nil, errors.New("bad glob " + pattern + ": " + err.Error())
		}
	}
	return func(p string) bool {
		for _, a := range alts {
			if ok, _ := path.Match(a, p); ok {
				return true
			}
			if ok, _ := path.Match(a, path.Base(p)); ok && !strings.Contains(a, "/") {
				return true
			}
		}
		return false
	}, nil
}

// expandBraces expands one level of {a,b} alternatives (nesting is rare in
// Argo CD patterns and is left to path.Match, which rejects it).
func expandBraces(p string) []string {
	i := strings.IndexByte(p, '{')
	j := strings.IndexByte(p, '}')
	if i < 0 || j < i {
		return []string{p}
	}
	var out []string
	for _, alt := range strings.Split(p[i+1:j], ",") {
		out = append(out, expandBraces(p[:i]+alt+p[j+1:])...)
	}
	return out
}
