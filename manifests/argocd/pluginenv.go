package argocd

import (
	"errors"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/helm"
	"github.com/gitops-gate/gitops-gate/manifests/model"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// PluginEnv is how an Argo CD Application that renders with gitops-gate's
// Config Management Plugin shapes rendering: Argo CD sets ARGOCD_APP_* for
// every plugin, and passes the Application's spec.source.plugin.env as
// ARGOCD_ENV_<name>. It can only change how the app renders (Helm values,
// release, Kustomize images), never what judges it: policies and trust come
// from the plugin's command line, which the platform team owns.
type PluginEnv struct {
	// AppName is ARGOCD_APP_NAME: Argo CD's default Helm release name.
	AppName string
	// Namespace is ARGOCD_APP_NAMESPACE, the destination namespace.
	Namespace string
	// Helm holds ARGOCD_ENV_HELM_RELEASE_NAME, _VALUE_FILES (comma- or
	// newline-separated, relative to the chart, or to the repository root
	// when they start with /) and _PARAMETERS (--set syntax).
	Helm model.HelmOptions
	// HelmValues is ARGOCD_ENV_HELM_VALUES, a YAML mapping.
	HelmValues map[string]any
	// KustomizeImages is ARGOCD_ENV_KUSTOMIZE_IMAGES (comma-separated, the
	// syntax of `kustomize edit set image`).
	KustomizeImages []string
}

// pluginEnvNames are the ARGOCD_ENV_ names gitops-gate reads, for the
// message about one it does not.
const pluginEnvNames = "HELM_PARAMETERS, HELM_RELEASE_NAME, HELM_VALUES, HELM_VALUE_FILES, KUSTOMIZE_IMAGES"

// ParsePluginEnv reads the plugin environment from environ (os.Environ's
// form). An ARGOCD_ENV_ name it does not know is an error: a misspelt
// setting would otherwise render something else than the Application
// says.
func ParsePluginEnv(environ []string) (PluginEnv, error) {
	var e PluginEnv
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "ARGOCD_APP_NAME":
			e.AppName = v
		case "ARGOCD_APP_NAMESPACE":
			e.Namespace = v
		}
		name, ok := strings.CutPrefix(k, "ARGOCD_ENV_")
		if !ok {
			continue
		}
		switch name {
		case "HELM_RELEASE_NAME":
			e.Helm.ReleaseName = strings.TrimSpace(v)
		case "HELM_VALUE_FILES":
			e.Helm.ValueFiles = splitList(v)
		case "HELM_VALUES":
			if err := sigsyaml.Unmarshal([]byte(v), &e.HelmValues); err != nil {
				return e, fmt.Errorf("%s: want a YAML mapping of Helm values: %w", k, err)
			}
		case "HELM_PARAMETERS":
			if strings.TrimSpace(v) == "" {
				continue
			}
			name, value, ok := strings.Cut(v, "=")
			if !ok {
				return e, fmt.Errorf("%s %q: want --set syntax, name=value[,name=value]", k, v)
			}
			e.Helm.Parameters = []model.HelmParameter{{Name: name, Value: value}}
		case "KUSTOMIZE_IMAGES":
			e.KustomizeImages = splitList(v)
		default:
			return e, fmt.Errorf("%s: gitops-gate does not know this plugin setting; it reads ARGOCD_ENV_ %s", k, pluginEnvNames)
		}
	}
	return e, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// HasSettings reports whether any ARGOCD_ENV_ setting is present.
func (e PluginEnv) HasSettings() bool {
	h := e.Helm
	return h.ReleaseName != "" || len(h.ValueFiles) > 0 || len(e.HelmValues) > 0 || len(h.Parameters) > 0 || len(e.KustomizeImages) > 0
}

// Apply sets the environment's settings on the app Argo CD is rendering,
// as Argo CD would for a Helm or Kustomize source: they come after the
// app's own (value files and parameters are added last, so they win), and
// the release is named after the Application unless set. A Helm setting
// on an app that is not a Helm chart (or a Kustomize one on another kind)
// is an error naming it.
func (e PluginEnv) Apply(app *model.App) error {
	if e.Namespace != "" {
		app.Namespace = e.Namespace
	}
	h := e.Helm
	helmSet := h.ReleaseName != "" || len(h.ValueFiles) > 0 || len(e.HelmValues) > 0 || len(h.Parameters) > 0
	if helmSet && app.Kind != model.KindHelm {
		return fmt.Errorf("app %s is a %s app, but ARGOCD_ENV_HELM_* settings are set: they apply to Helm charts only", app.Path, app.Kind)
	}
	if len(e.KustomizeImages) > 0 && app.Kind != model.KindKustomize {
		return fmt.Errorf("app %s is a %s app, but ARGOCD_ENV_KUSTOMIZE_IMAGES is set: it applies to Kustomize apps only", app.Path, app.Kind)
	}
	if app.Kind == model.KindHelm {
		switch {
		case h.ReleaseName != "":
			app.Helm.ReleaseName = h.ReleaseName
		case app.Helm.ReleaseName == "" && e.AppName != "":
			app.Helm.ReleaseName = e.AppName
		}
		app.Helm.ValueFiles = append(app.Helm.ValueFiles, h.ValueFiles...)
		if len(e.HelmValues) > 0 {
			// valuesObject is applied after values: merged into it, the
			// plugin's values come after both.
			obj := map[string]any{}
			if app.Helm.ValuesObject != nil {
				obj = helm.JSONCompatible(app.Helm.ValuesObject).(map[string]any)
			}
			helm.MergeValues(obj, helm.CopyValues(e.HelmValues))
			app.Helm.ValuesObject = obj
		}
		app.Helm.Parameters = append(app.Helm.Parameters, h.Parameters...)
	}
	app.Kustomize.Images = append(app.Kustomize.Images, e.KustomizeImages...)
	return nil
}

// ApplicationSettings reads an Argo CD Application object (JSON, as the
// Kubernetes API returns it, or YAML) and returns a function that gives
// the app of its source number index the settings that Application renders
// it with: destination namespace, helm, kustomize and directory options as
// discovery would read them from the repository, or, for a source that
// uses gitops-gate's own plugin (a plugin whose name starts with
// "gitops-gate"), the plugin's env. Options gitops-gate cannot honour make
// the app an error, as they do in discovery.
func ApplicationSettings(doc []byte, index int) (func(*model.App) error, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("Application: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("Application: not an object")
	}
	node := root.Content[0]
	name, _ := model.ScalarString(model.MapGet(model.MapGet(node, "metadata"), "name"))
	a, err := Parse(&model.Resource{Node: node, ResourceID: model.ResourceID{Kind: "Application", Name: name}, File: "in the cluster"})
	if err != nil {
		return nil, fmt.Errorf("Application %s: %w", name, err)
	}
	if index < 0 || index >= len(a.Sources) {
		return nil, fmt.Errorf("Application %s has no source number %d", name, index)
	}
	src := a.Sources[index]
	var env *PluginEnv
	if src.Plugin.Kind != 0 {
		plugin, _ := model.ScalarString(model.MapGet(&src.Plugin, "name"))
		if !strings.HasPrefix(plugin, "gitops-gate") {
			return nil, fmt.Errorf("Application %s renders with the plugin %q, not gitops-gate's: its images cannot be seen: %w", name, plugin, model.ErrUnsupported)
		}
		var vars []struct{ Name, Value string }
		if n := model.MapGet(&src.Plugin, "env"); n != nil {
			if err := n.Decode(&vars); err != nil {
				return nil, fmt.Errorf("Application %s: spec.source.plugin.env: %w", name, err)
			}
		}
		environ := []string{"ARGOCD_APP_NAME=" + name, "ARGOCD_APP_NAMESPACE=" + a.Namespace}
		for _, v := range vars {
			environ = append(environ, "ARGOCD_ENV_"+v.Name+"="+v.Value)
		}
		e, err := ParsePluginEnv(environ)
		if err != nil {
			return nil, fmt.Errorf("Application %s: spec.source.plugin.env: %w", name, err)
		}
		env = &e
		src.Plugin = yaml.Node{}
	}
	want := a.ToApp(index, src)
	if want.Err == nil && a.Multi {
		// $ref/… value files: the checkout is the synced commit of this
		// source's repository; a ref source elsewhere is not fetched here.
		for j, vf := range want.Helm.ValueFiles {
			ref, _, ok := RefValueFile(vf)
			if !ok {
				continue
			}
			rs, err := a.RefSource(ref)
			if err == nil && NormalizeRepoURL(rs.RepoURL) != NormalizeRepoURL(src.RepoURL) {
				err = fmt.Errorf("ref source $%s is repository %s, not the repository being synced (%s): %w", ref, rs.RepoURL, src.RepoURL, model.ErrUnsupported)
			}
			if err != nil {
				want.Err = fmt.Errorf("Application %s: %s.helm.valueFiles[%d] %q: %w", name, a.SourceField(index), j, vf, err)
				break
			}
			if !slices.ContainsFunc(want.ValueSources, func(v model.RemoteSource) bool { return v.Ref == ref }) {
				want.ValueSources = append(want.ValueSources, model.RemoteSource{Ref: ref, RepoURL: rs.RepoURL, Revision: rs.TargetRevision})
			}
		}
	}
	return func(app *model.App) error {
		if want.Err != nil {
			return want.Err
		}
		if env != nil {
			return env.Apply(app)
		}
		app.Namespace, app.Helm, app.Kustomize, app.Directory, app.ValueSources = want.Namespace, want.Helm, want.Kustomize, want.Directory, want.ValueSources
		if app.Kind == model.KindHelm && app.Helm.ReleaseName == "" {
			app.Helm.ReleaseName = name // Argo CD's default
		}
		if want.Kind != "" {
			app.Kind = want.Kind // the tool section the source sets (ExplicitType)
		}
		return nil
	}, nil
}
