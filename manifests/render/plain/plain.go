package plain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/gobwas/glob"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// renderPlain reads every YAML and JSON manifest of a directory app. A bad
// file is recorded and the other files are still read.
//
// For an Argo CD Application (app.Directory.ArgoCD) the files are chosen
// exactly as Argo CD's repo-server chooses them (findManifests and
// getPotentiallyValidManifestFile in reposerver/repository/repository.go):
// hidden files and directories are read, subdirectories are read whatever
// they hold, the extension filter is Argo CD's (case-sensitive, .jsonnet
// included), include/exclude are globs on the path relative to the app
// directory, and files carrying the skip-rendering marker are left out.
// Apps found by the layout rules or listed in .gitops-gate.yaml skip hidden
// files and subdirectories that are apps of their own (rendered as those).
func (r *Repo) renderPlain(ctx context.Context, dir string, out *Rendered) {
	app := out.App
	opts := app.Directory
	include, err := compileArgoGlob(opts.Include)
	if err != nil {
		out.Err = &FileError{File: app.Path, Err: fmt.Errorf("directory.include: %w", err)}
		return
	}
	exclude, err := compileArgoGlob(opts.Exclude)
	if err != nil {
		out.Err = &FileError{File: app.Path, Err: fmt.Errorf("directory.exclude: %w", err)}
		return
	}
	gitDir := filepath.Join(r.root, ".git")
	var files, jsonnetFiles []string
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
			switch {
			case p == dir:
				r.recordDir(p)
				return nil
			case !opts.Recurse:
				return fs.SkipDir
			case p == gitDir && opts.ArgoCD:
				return fs.SkipDir
			case skipDir(d, false) && !opts.ArgoCD:
				return fs.SkipDir
			}
			// The subdirectory's listing decides what is read in it, and
			// whether it is an app of its own.
			r.recordDir(p)
			switch {
			case opts.ArgoCD:
				// Argo CD walks every subdirectory. Only the checkout's own
				// Git directory is left out: nothing in it is part of a
				// commit's tree.
				if p == gitDir {
					return fs.SkipDir
				}
				return nil
			case skipDir(d, false) || detectKind(p) == KindHelm || kustomizationFile(p) != "":
				// Subdirectories that are apps of their own (a chart, a
				// kustomization) are rendered as those apps, not as YAML here.
				return fs.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if !opts.ArgoCD {
			if strings.HasPrefix(d.Name(), ".") || !isManifestFile(d.Name()) {
				return nil
			}
			if (exclude != nil && exclude.Match(rel)) || (include != nil && !include.Match(rel)) {
				return nil
			}
			files = append(files, p)
			return nil
		}
		// Argo CD: the extension filter looks at the entry's own name.
		if !opts.DisableExtensionFilter && !argoManifestFile.MatchString(d.Name()) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			real, err := r.confine(p)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // Argo CD skips a dangling link with a warning
			}
			if err != nil {
				errs = append(errs, err) // Argo CD: "illegal filepath in symlink"
				return nil
			}
			if st, err := os.Stat(real); err != nil || !st.Mode().IsRegular() {
				return nil // Argo CD skips links to directories and devices
			}
		}
		if (exclude != nil && exclude.Match(rel)) || (include != nil && !include.Match(rel)) {
			return nil
		}
		data, err := r.readFile(p)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if bytes.Contains(data, []byte(argoSkipRenderingMarker)) {
			return nil
		}
		if strings.HasSuffix(d.Name(), ".jsonnet") {
			// Argo CD evaluates the Jsonnet files of a directory app.
			jsonnetFiles = append(jsonnetFiles, r.rel(p))
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
		if err != nil && opts.ArgoCD && len(res) == 0 && !strings.HasSuffix(f, ".json") && r.argoIgnores(f) {
			// Argo CD ignores a YAML file it cannot decode into objects when
			// it does not look like a resource (getObjsFromYAMLOrJSON): a
			// kustomization.yaml or values file met while recursing.
			continue
		}
		out.Resources = append(out.Resources, res...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(jsonnetFiles) > 0 {
		res, err := r.evalJsonnetFiles(ctx, app, jsonnetFiles)
		out.Resources = append(out.Resources, res...)
		errs = append(errs, err)
	}
	out.Err = errors.Join(errs...)
}

// argoIgnores reports whether Argo CD leaves a YAML file of a directory app
// out without an error (getObjsFromYAMLOrJSON in repository.go): its first
// document does not decode into an object with a kind (so no object was
// read before the error), and the file does not look like a resource (it
// lacks one of apiVersion:, kind:, metadata:). Only then may the gate's own
// error on the file be dropped: a file Argo CD decodes is never ignored.
func (r *Repo) argoIgnores(abs string) bool {
	data, err := r.readFile(abs)
	if err != nil {
		return false
	}
	if bytes.Contains(data, []byte("apiVersion:")) && bytes.Contains(data, []byte("kind:")) && bytes.Contains(data, []byte("metadata:")) {
		return false
	}
	return argoRejectsFirstObject(data)
}

// argoRejectsFirstObject decodes documents as Argo CD's splitYAMLOrJSON does
// (apimachinery's YAMLOrJSONDecoder into unstructured objects) and reports
// whether the first non-empty one fails: not valid YAML, not a mapping, or
// a mapping without a kind.
func argoRejectsFirstObject(data []byte) bool {
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var v any
		if err := d.Decode(&v); err != nil {
			return !errors.Is(err, io.EOF)
		}
		if v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return true
		}
		kind, _ := m["kind"].(string)
		return kind == ""
	}
}

// argoManifestFile is the extension filter of Argo CD's directory apps
// (manifestFile in reposerver/repository/repository.go): case-sensitive.
var argoManifestFile = regexp.MustCompile(`^.*\.(yaml|yml|json|jsonnet)$`)

// argoSkipRenderingMarker in a file makes Argo CD leave it out of a
// directory app (skipFileRenderingMarker in repository.go).
const argoSkipRenderingMarker = "+argocd:skip-file-rendering"

// compileArgoGlob compiles a directory include/exclude pattern as Argo CD
// does (util/glob.Match): github.com/gobwas/glob with no separators, so `*`
// also matches `/` and `{a,b}` are alternatives, matched against the path
// relative to the app directory. Empty means no filter. A pattern that does
// not compile is an error: Argo CD would log it and match nothing, which
// for an exclude means every file is applied.
func compileArgoGlob(pattern string) (glob.Glob, error) {
	if pattern == "" {
		return nil, nil
	}
	g, err := glob.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("bad glob %q: %w", pattern, err)
	}
	return g, nil
}
