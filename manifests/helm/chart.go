package helm

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gitops-gate/gitops-gate/manifests/model"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// AddDependencies adds the fetched dependency charts in dirs to c, as if
// they were in its charts/ directory.
func AddDependencies(c *chart.Chart, dirs []string) error {
	for _, d := range dirs {
		dep, err := loader.Load(d)
		if err != nil {
			return fmt.Errorf("loading chart dependency %s: %w", filepath.Base(d), err)
		}
		c.AddDependency(dep)
	}
	return nil
}

// MissingDependencies mirrors `helm template`'s check, naming where each
// missing dependency would have to be downloaded from.
func MissingDependencies(c *chart.Chart) error {
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
		strings.Join(missing, ", "), model.ErrUnsupported)
}

// MergeValues merges src into dst the way Helm merges -f files: maps merge
// recursively, anything else replaces.
func MergeValues(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				MergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// Cluster is the cluster a chart renders for: what Argo CD passes as
// `helm template --kube-version --api-versions` (the Application's
// helm.kubeVersion/apiVersions, else the destination cluster's; helmTemplate
// in reposerver/repository/repository.go).
type Cluster struct {
	KubeVersion string
	APIVersions []string
}

// Capabilities are Helm's for `helm template` with these flags: the
// default capabilities, the given Kubernetes version, and the API versions
// added to the built-in set (action.Install with ClientOnly).
func (c Cluster) Capabilities() (*chartutil.Capabilities, error) {
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

// TemplateChart merges the chart's dependencies and values and runs its
// templates, as `helm template` does: in this process, or in a sandbox's
// child (helmTemplate).
func TemplateChart(chrt *chart.Chart, vals map[string]any, rel chartutil.ReleaseOptions, cluster Cluster) (map[string]string, error) {
	caps, err := cluster.Capabilities()
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

// CopyValues copies the maps and lists of a values tree.
func CopyValues(v map[string]any) map[string]any {
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

// JSONCompatible converts YAML-decoded maps (which may have any keys) into
// the map[string]any shape Helm expects.
func JSONCompatible(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = JSONCompatible(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = JSONCompatible(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = JSONCompatible(e)
		}
		return out
	}
	return v
}
