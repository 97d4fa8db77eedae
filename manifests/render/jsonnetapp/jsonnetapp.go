package jsonnetapp

import (
	"context"
	"errors"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/extract"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gitops-gate/gitops-gate/manifests/jsonnet"
	yaml "go.yaml.in/yaml/v3"
)

// renderJsonnet renders a Jsonnet directory app as Argo CD's repo-server
// does: the YAML and JSON manifests of the directory, plus the output of
// each .jsonnet file (one object, or a list of objects) evaluated with the
// Application's TLAs, extVars and libs. Evaluation runs in the HelmSandbox
// when there is one (a Jsonnet program can loop), under the same limits.
func (r *Repo) renderJsonnet(ctx context.Context, dir string, out *Rendered) {
	app := out.App
	r.renderPlain(ctx, dir, out)
	errs := []error{out.Err}
	files, err := r.jsonnetFiles(ctx, dir, app)
	if err != nil {
		out.Err = errors.Join(append(errs, err)...)
		return
	}
	if len(files) == 0 {
		out.Err = errors.Join(append(errs, &FileError{File: app.Path, Err: errors.New("Jsonnet app has no .jsonnet file")})...)
		return
	}
	res, err := r.evalJsonnetFiles(ctx, app, files)
	out.Resources = append(out.Resources, res...)
	out.Err = errors.Join(append(errs, err)...)
}

// evalJsonnetFiles evaluates Jsonnet files (repository-relative) of a
// directory app with its directory.jsonnet options, and returns the
// objects they produce.
func (r *Repo) evalJsonnetFiles(ctx context.Context, app App, files []string) ([]Resource, error) {
	job := jsonnet.Job{Root: r.root, Dir: app.Path, Files: files, Libs: app.Directory.Jsonnet.Libs, MaxFileSize: r.opts.MaxFileSize}
	for _, v := range app.Directory.Jsonnet.TLAs {
		val, err := r.buildEnvSubst(app, v.Value)
		if err != nil {
			return nil, fmt.Errorf("directory.jsonnet.tlas %s: %w", v.Name, err)
		}
		job.TLAs = append(job.TLAs, jsonnet.Var{Name: v.Name, Value: val, Code: v.Code})
	}
	for _, v := range app.Directory.Jsonnet.ExtVars {
		val, err := r.buildEnvSubst(app, v.Value)
		if err != nil {
			return nil, fmt.Errorf("directory.jsonnet.extVars %s: %w", v.Name, err)
		}
		job.Ext = append(job.Ext, jsonnet.Var{Name: v.Name, Value: val, Code: v.Code})
	}
	var outputs []jsonnet.Output
	var err error
	if s := r.opts.HelmSandbox; s != nil {
		outputs, err = s.EvalJsonnet(ctx, job)
	} else {
		outputs, err = jsonnet.Evaluate(job)
	}
	if err != nil {
		return nil, fmt.Errorf("Jsonnet app %s: %w", app.Path, err)
	}
	for _, o := range outputs {
		for _, rel := range o.Imports {
			// Read through the Repo, as the importer read it: recorded
			// with its content hash, or as absent.
			if abs, err := r.abs(rel); err == nil {
				r.readFile(abs)
			} else {
				r.recordAlways("Jsonnet import " + rel + ": " + err.Error())
			}
		}
	}
	var out []Resource
	var errs []error
	for _, o := range outputs {
		// The applier's decoding (decode.go), then Argo CD's list handling.
		chunks, err := extract.SplitStream(o.File, []byte(o.JSON), false)
		errs = append(errs, err)
		for _, c := range chunks {
			root, err := extract.DecodeChunk(o.File, c, r.opts.MaxDocumentNodes)
			if err != nil || root == nil {
				errs = append(errs, err)
				continue
			}
			res, err := jsonnetObjects(o.File, root)
			out = append(out, res...)
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// jsonnetObjects takes the objects out of one file's output: an object, or
// a list of objects (nested lists flattened, nulls dropped, as Argo CD's
// unmarshalling into a list of objects does). The output's line numbers are
// not lines of the .jsonnet file, so the file alone locates them.
func jsonnetObjects(file string, n *yaml.Node) ([]Resource, error) {
	switch {
	case n.Kind == yaml.SequenceNode:
		var out []Resource
		var errs []error
		for _, it := range n.Content {
			res, err := jsonnetObjects(file, it)
			out = append(out, res...)
			errs = append(errs, err)
		}
		return out, errors.Join(errs...)
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return nil, nil
	}
	res, err := objectsOf(file, n)
	for i := range res {
		res[i].Line = 0
	}
	if err != nil {
		err = fmt.Errorf("output of %s: %w", file, err)
	}
	return res, err
}

// jsonnetFiles lists the .jsonnet files of the app (repository-relative),
// with the directory rules of renderPlain: recurse, include, exclude.
func (r *Repo) jsonnetFiles(ctx context.Context, dir string, app App) ([]string, error) {
	include, err := compileArgoGlob(app.Directory.Include)
	if err != nil {
		return nil, &FileError{File: app.Path, Err: err}
	}
	exclude, err := compileArgoGlob(app.Directory.Exclude)
	if err != nil {
		return nil, &FileError{File: app.Path, Err: err}
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return &FileError{File: r.rel(p), Err: err}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() {
			if p == dir {
				r.recordDir(p)
				return nil
			}
			if skipDir(d, false) || !app.Directory.Recurse {
				return fs.SkipDir
			}
			r.recordDir(p)
			if detectKind(p) == KindHelm || kustomizationFile(p) != "" {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || filepath.Ext(d.Name()) != ".jsonnet" {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if (include != nil && !include.Match(rel)) || (exclude != nil && exclude.Match(rel)) {
			return nil
		}
		files = append(files, r.rel(p))
		return nil
	})
	sort.Strings(files)
	return files, err
}

// buildEnvSubst expands Argo CD's build environment in a TLA or extVar
// value ($VAR or ${VAR}, $$ for a dollar), as the repo-server does. Values
// the gate cannot know offline (the revision) are errors rather than
// guesses; other unknown names expand to "" as in Argo CD.
func (r *Repo) buildEnvSubst(app App, s string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	env := map[string]string{
		"ARGOCD_APP_NAME":            app.Name,
		"ARGOCD_APP_NAMESPACE":       app.Namespace,
		"ARGOCD_APP_SOURCE_PATH":     app.Path,
		"ARGOCD_APP_SOURCE_REPO_URL": r.opts.RepoURL,
	}
	var bad error
	out := expandEnv(s, func(name string) string {
		if name == "$" {
			return "$"
		}
		if v, ok := env[name]; ok {
			return v
		}
		if strings.HasPrefix(name, "ARGOCD_APP_") || strings.HasPrefix(name, "KUBE_") {
			bad = fmt.Errorf("$%s is not known offline: %w", name, ErrUnsupported)
		}
		return ""
	})
	return out, bad
}

// expandEnv is os.Expand, which also gives "$$" to the mapping as "$".
func expandEnv(s string, mapping func(string) string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch c := s[i+1]; {
		case c == '$':
			b.WriteString(mapping("$"))
			i++
		case c == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			b.WriteString(mapping(s[i+2 : i+2+end]))
			i += 2 + end
		case c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			b.WriteString(mapping(s[i+1 : j]))
			i = j - 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
