package helmapp

import (
	"context"
	"errors"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/argocd"
	"github.com/gitops-gate/gitops-gate/manifests/helm"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/strvals"
	sigsyaml "sigs.k8s.io/yaml"
)

// renderHelm renders a local chart with the Helm SDK, as `helm template`
// would: values.yaml, then the app's value files, values and parameters.
// Dependencies not vendored in charts/ are fetched from the repositories
// the gate's configuration allows (fetchDependencies); any other is an
// error naming it.
func (r *Repo) renderHelm(ctx context.Context, dir string, out *Rendered) {
	app := out.App
	if err := r.checkChartFiles(dir); err != nil {
		out.Err = err
		return
	}
	chrt, err := loader.Load(dir)
	if err != nil {
		out.Err = fmt.Errorf("loading Helm chart %s: %w", app.Path, r.redactErr(err))
		return
	}
	depDirs, err := r.fetchDependencies(ctx, dir, chrt, &out.App)
	if len(depDirs) > 0 || len(out.App.Dependencies) > 0 {
		r.recordAlways("chart dependencies are fetched")
	}
	if err != nil {
		out.Err = err
		return
	}
	if err := helm.AddDependencies(chrt, depDirs); err != nil {
		out.Err = fmt.Errorf("Helm chart %s: %w", app.Path, err)
		return
	}
	if err := helm.MissingDependencies(chrt); err != nil {
		out.Err = &FileError{File: r.rel(filepath.Join(dir, "Chart.yaml")), Err: err}
		return
	}
	vals, err := r.helmValues(dir, app, r.valueRepos(out.Values))
	if err != nil {
		out.Err = err
		return
	}
	release := chartutil.ReleaseOptions{
		Name:      app.Helm.ReleaseName,
		Namespace: app.Namespace,
		Revision:  1,
		IsInstall: true,
	}
	if app.Helm.Namespace != "" {
		release.Namespace = app.Helm.Namespace
	}
	cluster := helm.Cluster{KubeVersion: app.Helm.KubeVersion, APIVersions: app.Helm.APIVersions}
	if cluster.KubeVersion == "" {
		cluster.KubeVersion = r.opts.KubeVersion
	}
	if len(cluster.APIVersions) == 0 {
		cluster.APIVersions = r.opts.APIVersions
	}
	if _, err := cluster.Capabilities(); err != nil {
		out.Err = fmt.Errorf("Helm chart %s: %w", app.Path, err)
		return
	}
	if release.Name == "" {
		release.Name = app.Name
	}
	if release.Namespace == "" {
		release.Namespace = "default"
	}
	if err := ctx.Err(); err != nil {
		out.Err = err
		return
	}
	var files map[string]string
	if r.opts.HelmSandbox != nil {
		files, err = r.opts.HelmSandbox.Render(ctx, dir, depDirs, vals, release, cluster)
	} else {
		files, err = helm.TemplateChart(chrt, vals, release, cluster)
	}
	if err != nil {
		out.Err = fmt.Errorf("Helm chart %s: %w", app.Path, err)
		return
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	prefix := chrt.Name() + "/"
	for _, name := range names {
		base := filepath.Base(name)
		if strings.HasPrefix(base, "_") || strings.EqualFold(base, "NOTES.txt") || strings.TrimSpace(files[name]) == "" {
			continue
		}
		file := strings.TrimPrefix(filepath.ToSlash(filepath.Join(app.Path, strings.TrimPrefix(name, prefix))), "./")
		// Argo CD reads `helm template` output as one YAML stream.
		objs, err := DecodeManifests([]byte(files[name]), DecodeOptions{File: file, MaxNodes: r.opts.MaxDocumentNodes, YAMLOnly: true})
		for i := range objs {
			objs[i].Line = 0 // lines of the rendered text, not of the template
		}
		out.Resources = append(out.Resources, objs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("rendered template: %w", err))
		}
	}
	out.Err = errors.Join(errs...)
}

// checkChartFiles enforces the repository's rules on a chart directory
// before the Helm loader (which follows symlinks and reads whole files) sees it.
func (r *Repo) checkChartFiles(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			r.recordDir(p)
			return nil
		}
		data, err := r.readFile(p) // confines symlinks, bounds size
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") {
			return checkAliases(r.rel(p), data, r.opts.MaxDocumentNodes)
		}
		return nil
	})
}

// helmValues composes user values in Argo CD's order: value files, values,
// valuesObject, then parameters. Chart defaults are merged later by Helm.
//
// A value file $ref/path (a multi-source Application's) is read from the
// repository of that ref source (values), at path from its root; any other
// is relative to the chart's directory, or to r's root when absolute.
// Either way it must stay inside its repository.
func (r *Repo) helmValues(dir string, app App, values map[string]*Repo) (map[string]any, error) {
	vals := map[string]any{}
	for _, written := range app.Helm.ValueFiles {
		vf, from := written, r
		p := filepath.Join(dir, filepath.FromSlash(vf))
		if ref, rest, ok := argocd.RefValueFile(vf); ok {
			if from = values[ref]; from == nil {
				return nil, fmt.Errorf("app %s: value file %s: the ref source $%s was not resolved", app.Name, written, ref)
			}
			vf = strings.TrimLeft(rest, "/")
			p = filepath.Join(from.root, filepath.FromSlash(vf))
		} else if strings.HasPrefix(vf, "/") {
			var err error
			if p, err = r.abs(strings.TrimPrefix(vf, "/")); err != nil {
				return nil, fmt.Errorf("app %s: value file: %w", app.Name, err)
			}
		}
		if !within(from.root, filepath.Clean(p)) {
			return nil, fmt.Errorf("app %s: value file %s is %w", app.Name, written, ErrOutsideRepo)
		}
		data, err := from.readFile(p)
		if errors.Is(err, os.ErrNotExist) && app.Helm.IgnoreMissingValueFiles {
			continue
		}
		if err == nil {
			err = checkAliases(from.rel(p), data, r.opts.MaxDocumentNodes)
		}
		if err != nil {
			return nil, fmt.Errorf("app %s: value file %s: %w", app.Name, written, err)
		}
		var m map[string]any
		if err := sigsyaml.Unmarshal(data, &m); err != nil {
			return nil, &FileError{File: from.rel(p), Err: fmt.Errorf("invalid values: %w", err)}
		}
		helm.MergeValues(vals, m)
	}
	if app.Helm.Values != "" {
		var m map[string]any
		if err := sigsyaml.Unmarshal([]byte(app.Helm.Values), &m); err != nil {
			return nil, fmt.Errorf("app %s: helm.values: %w", app.Name, err)
		}
		helm.MergeValues(vals, m)
	}
	if app.Helm.ValuesObject != nil {
		helm.MergeValues(vals, helm.JSONCompatible(app.Helm.ValuesObject).(map[string]any))
	}
	for _, p := range app.Helm.Parameters {
		parse := strvals.ParseInto
		if p.ForceString {
			parse = strvals.ParseIntoString
		}
		if err := parse(p.Name+"="+p.Value, vals); err != nil {
			return nil, fmt.Errorf("app %s: helm parameter %s: %w", app.Name, p.Name, err)
		}
	}
	return vals, nil
}
