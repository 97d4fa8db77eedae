package manifests

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
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
	if err != nil {
		out.Err = err
		return
	}
	if err := addDependencies(chrt, depDirs); err != nil {
		out.Err = fmt.Errorf("Helm chart %s: %w", app.Path, err)
		return
	}
	if err := missingDependencies(chrt); err != nil {
		out.Err = &FileError{File: r.rel(filepath.Join(dir, "Chart.yaml")), Err: err}
		return
	}
	vals, err := r.helmValues(dir, app)
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
	cluster := helmCluster{KubeVersion: app.Helm.KubeVersion, APIVersions: app.Helm.APIVersions}
	if cluster.KubeVersion == "" {
		cluster.KubeVersion = r.opts.KubeVersion
	}
	if len(cluster.APIVersions) == 0 {
		cluster.APIVersions = r.opts.APIVersions
	}
	if _, err := cluster.capabilities(); err != nil {
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
		files, err = r.opts.HelmSandbox.render(ctx, dir, depDirs, vals, release, cluster)
	} else {
		files, err = templateChart(chrt, vals, release, cluster)
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

// addDependencies adds the fetched dependency charts in dirs to c, as if
// they were in its charts/ directory.
func addDependencies(c *chart.Chart, dirs []string) error {
	for _, d := range dirs {
		dep, err := loader.Load(d)
		if err != nil {
			return fmt.Errorf("loading chart dependency %s: %w", filepath.Base(d), err)
		}
		c.AddDependency(dep)
	}
	return nil
}

// missingDependencies mirrors `helm template`'s check, naming where each
// missing dependency would have to be downloaded from.
func missingDependencies(c *chart.Chart) error {
	var missing []string
	for _, req := range c.Metadata.Dependencies {
		found := false
		for _, d := range c.Dependencies() {
			if d.Name() == req.Name {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("%s %s from %s", req.Name, req.Version, req.Repository))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("chart dependency %s is not in charts/ and would need a download, which gitops-gate does not do; vendor it with `helm dependency build`: %w",
		strings.Join(missing, ", "), ErrUnsupported)
}

// helmValues composes user values in Argo CD's order: value files, values,
// valuesObject, then parameters. Chart defaults are merged later by Helm.
func (r *Repo) helmValues(dir string, app App) (map[string]any, error) {
	vals := map[string]any{}
	for _, vf := range app.Helm.ValueFiles {
		p := filepath.Join(dir, filepath.FromSlash(vf))
		if strings.HasPrefix(vf, "/") {
			var err error
			if p, err = r.abs(strings.TrimPrefix(vf, "/")); err != nil {
				return nil, fmt.Errorf("app %s: value file: %w", app.Name, err)
			}
		}
		if !within(r.root, filepath.Clean(p)) {
			return nil, fmt.Errorf("app %s: value file %s is %w", app.Name, vf, ErrOutsideRepo)
		}
		data, err := r.readFile(p)
		if errors.Is(err, os.ErrNotExist) && app.Helm.IgnoreMissingValueFiles {
			continue
		}
		if err == nil {
			err = checkAliases(r.rel(p), data, r.opts.MaxDocumentNodes)
		}
		if err != nil {
			return nil, fmt.Errorf("app %s: value file %s: %w", app.Name, vf, err)
		}
		var m map[string]any
		if err := sigsyaml.Unmarshal(data, &m); err != nil {
			return nil, &FileError{File: r.rel(p), Err: fmt.Errorf("invalid values: %w", err)}
		}
		mergeValues(vals, m)
	}
	if app.Helm.Values != "" {
		var m map[string]any
		if err := sigsyaml.Unmarshal([]byte(app.Helm.Values), &m); err != nil {
			return nil, fmt.Errorf("app %s: helm.values: %w", app.Name, err)
		}
		mergeValues(vals, m)
	}
	if app.Helm.ValuesObject != nil {
		mergeValues(vals, jsonCompatible(app.Helm.ValuesObject).(map[string]any))
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

// mergeValues merges src into dst the way Helm merges -f files: maps merge
// recursively, anything else replaces.
func mergeValues(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// helmCluster is the cluster a chart renders for: what Argo CD passes as
// `helm template --kube-version --api-versions` (the Application's
// helm.kubeVersion/apiVersions, else the destination cluster's; helmTemplate
// in reposerver/repository/repository.go).
type helmCluster struct {
	KubeVersion string
	APIVersions []string
}

// capabilities are Helm's for `helm template` with these flags: the
// default capabilities, the given Kubernetes version, and the API versions
// added to the built-in set (action.Install with ClientOnly).
func (c helmCluster) capabilities() (*chartutil.Capabilities, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	if c.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(c.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("Kubernetes version %q: %w", c.KubeVersion, err)
		}
		caps.KubeVersion = *kv
	}
	caps.APIVersions = append(caps.APIVersions, c.APIVersions...)
	return caps, nil
}

// templateChart merges the chart's dependencies and values and runs its
// templates, as `helm template` does: in this process, or in a sandbox's
// child (helmTemplate).
func templateChart(chrt *chart.Chart, vals map[string]any, rel chartutil.ReleaseOptions, cluster helmCluster) (map[string]string, error) {
	caps, err := cluster.capabilities()
	if err != nil {
		return nil, err
	}
	// As renderResources in Helm's action package: a chart that does not
	// support the cluster's version does not render.
	if kv := chrt.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", kv, caps.KubeVersion.String())
	}
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return nil, fmt.Errorf("dependencies: %w", err)
	}
	renderVals, err := chartutil.ToRenderValues(chrt, vals, rel, caps)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	return engine.Render(chrt, renderVals)
}

// copyValues copies the maps and lists of a values tree.
func copyValues(v map[string]any) map[string]any {
	return deepCopyValue(v).(map[string]any)
}

func deepCopyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopyValue(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopyValue(e)
		}
		return out
	}
	return v
}

// jsonCompatible converts YAML-decoded maps (which may have any keys) into
// the map[string]any shape Helm expects.
func jsonCompatible(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = jsonCompatible(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = jsonCompatible(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = jsonCompatible(e)
		}
		return out
	}
	return v
}
