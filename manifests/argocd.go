package manifests

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// argoSource is the part of an Argo CD ApplicationSource that decides what
// is rendered. The tool sections are kept as nodes so that every field can be
// checked: one that changes the rendered images and is not implemented is an
// error, never ignored.
type argoSource struct {
	RepoURL   string    `yaml:"repoURL"`
	Path      string    `yaml:"path"`
	Chart     string    `yaml:"chart"`
	Ref       string    `yaml:"ref"`
	Helm      yaml.Node `yaml:"helm"`
	Kustomize yaml.Node `yaml:"kustomize"`
	Directory yaml.Node `yaml:"directory"`
	Plugin    yaml.Node `yaml:"plugin"`
}

// argoApp is an Argo CD Application found in the repository.
type argoApp struct {
	name      string
	namespace string // destination namespace
	file      string
	line      int
	sources   []argoSource
	// generatedBy is set when an ApplicationSet generated the Application.
	generatedBy *GeneratedBy
}

// where names the file (and line, when the Application is written there
// literally rather than rendered from a template) that defines the Application.
func (a *argoApp) where() string {
	if a.line > 0 {
		return fmt.Sprintf("%s:%d", a.file, a.line)
	}
	return a.file
}

func parseArgoApplication(res *Resource) (*argoApp, error) {
	a := &argoApp{name: res.Name, file: res.File, line: res.Line}
	spec := mapGet(res.Node, "spec")
	a.namespace, _ = scalarString(mapGet(mapGet(spec, "destination"), "namespace"))
	if src := mapGet(spec, "source"); src != nil {
		var s argoSource
		if err := src.Decode(&s); err != nil {
			return nil, fmt.Errorf("spec.source: %w", err)
		}
		a.sources = append(a.sources, s)
	}
	if srcs := mapGet(spec, "sources"); srcs != nil {
		var ss []argoSource
		if err := srcs.Decode(&ss); err != nil {
			return nil, fmt.Errorf("spec.sources: %w", err)
		}
		a.sources = append(a.sources, ss...)
	}
	return a, nil
}

// Fields of Argo CD source tools that do not change which images run.
var (
	harmlessHelm = set("passCredentials", "skipCrds", "skipSchemaValidation", "skipTests", "version",
		"kubeVersion", "apiVersions")
	harmlessKustomize = set("namePrefix", "nameSuffix", "commonLabels", "commonAnnotations",
		"commonAnnotationsEnvsubst", "forceCommonLabels", "forceCommonAnnotations", "namespace",
		"version", "labelWithoutSelector", "labelIncludeTemplates", "kubeVersion", "apiVersions", "replicas")
)

func set(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, e := range s {
		m[e] = true
	}
	return m
}

// toApp turns one in-repository source of an Application into an app.
// refs maps `ref:` names of this Application's sources in the same repo to
// their paths (for $ref/values.yaml value files).
func (a *argoApp) toApp(i int, s argoSource, refs map[string]string) App {
	app := App{
		Name:      a.name,
		Path:      cleanArgoPath(s.Path),
		Namespace: a.namespace,
		DefinedIn: a.where(),
	}
	if len(a.sources) > 1 {
		app.Name = fmt.Sprintf("%s[%d]", a.name, i)
	}
	field := "spec.source"
	if len(a.sources) > 1 {
		field = fmt.Sprintf("spec.sources[%d]", i)
	}
	fail := func(format string, args ...any) App {
		app.Err = fmt.Errorf("Application %s (%s): %s: %w", a.name, app.DefinedIn, fmt.Sprintf(format, args...), ErrUnsupported)
		return app
	}
	if s.Plugin.Kind != 0 {
		app.Kind = KindPlugin
		name, _ := scalarString(mapGet(&s.Plugin, "name"))
		return fail("%s.plugin %q: Config Management Plugins are not run by gitops-gate, so this app's images cannot be seen", field, name)
	}
	if h := &s.Helm; h.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(h.Content); j += 2 {
			k := h.Content[j].Value
			v := h.Content[j+1]
			var err error
			switch {
			case harmlessHelm[k]:
			case k == "releaseName":
				app.Helm.ReleaseName, _ = scalarString(v)
			case k == "namespace":
				app.Namespace, _ = scalarString(v)
			case k == "valueFiles":
				err = v.Decode(&app.Helm.ValueFiles)
			case k == "values":
				app.Helm.Values, _ = scalarString(v)
				if v.Kind == yaml.MappingNode { // older Argo CD accepted an object here
					var m map[string]any
					err = v.Decode(&m)
					app.Helm.ValuesObject = m
				}
			case k == "valuesObject":
				err = v.Decode(&app.Helm.ValuesObject)
			case k == "parameters":
				err = v.Decode(&app.Helm.Parameters)
			case k == "ignoreMissingValueFiles":
				err = v.Decode(&app.Helm.IgnoreMissingValueFiles)
			default:
				return fail("%s.helm.%s is not implemented", field, k)
			}
			if err != nil {
				app.Err = fmt.Errorf("Application %s (%s): %s.helm.%s: %w", a.name, app.DefinedIn, field, k, err)
				return app
			}
		}
		for j, vf := range app.Helm.ValueFiles {
			if ref, rest, ok := strings.Cut(vf, "/"); ok && strings.HasPrefix(ref, "$") {
				p, known := refs[ref[1:]]
				if !known {
					return fail("%s.helm.valueFiles[%d] %q refers to a source that is not in this repository", field, j, vf)
				}
				app.Helm.ValueFiles[j] = "/" + strings.TrimPrefix(p+"/"+rest, "./")
			}
		}
	}
	if k := &s.Kustomize; k.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(k.Content); j += 2 {
			key := k.Content[j].Value
			switch {
			case harmlessKustomize[key]:
			case key == "images":
				if err := k.Content[j+1].Decode(&app.Kustomize.Images); err != nil {
					app.Err = fmt.Errorf("Application %s (%s): %s.kustomize.images: %w", a.name, app.DefinedIn, field, err)
					return app
				}
			default:
				return fail("%s.kustomize.%s is not implemented (it can change the rendered images)", field, key)
			}
		}
	}
	if d := &s.Directory; d.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(d.Content); j += 2 {
			key, v := d.Content[j].Value, d.Content[j+1]
			switch key {
			case "recurse":
				_ = v.Decode(&app.Directory.Recurse)
			case "include":
				app.Directory.Include, _ = scalarString(v)
			case "exclude":
				app.Directory.Exclude, _ = scalarString(v)
			case "jsonnet":
				app.Kind = KindJsonnet
				if err := decodeJsonnet(v, &app.Directory.Jsonnet); err != nil {
					return fail("%s.directory.jsonnet: %v", field, err)
				}
			default:
				return fail("%s.directory.%s is not implemented", field, key)
			}
		}
	}
	return app
}

func cleanArgoPath(p string) string {
	p = strings.Trim(strings.TrimSpace(p), "/")
	if p == "" {
		return "."
	}
	return p
}

// normalizeRepoURL makes the many spellings of one Git repository compare
// equal: scheme, user, .git suffix, trailing slash and host case.
func normalizeRepoURL(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "git@") { // scp-like: git@github.com:org/repo.git
		s = "ssh://" + strings.Replace(strings.TrimPrefix(s, "git@"), ":", "/", 1)
	}
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		s = strings.ToLower(u.Hostname()) + u.Path
	}
	s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
	return strings.ToLower(s)
}

// inferRepoURL picks the repository URL most Applications use for paths
// that exist in this checkout: the checkout is most likely that repository.
func inferRepoURL(apps []*argoApp, exists func(string) bool) string {
	count := map[string]int{}
	for _, a := range apps {
		for _, s := range a.sources {
			if s.Chart == "" && s.RepoURL != "" && exists(cleanArgoPath(s.Path)) {
				count[normalizeRepoURL(s.RepoURL)]++
			}
		}
	}
	var urls []string
	for u := range count {
		urls = append(urls, u)
	}
	sort.Slice(urls, func(i, j int) bool {
		if count[urls[i]] != count[urls[j]] {
			return count[urls[i]] > count[urls[j]]
		}
		return urls[i] < urls[j]
	})
	if len(urls) == 0 {
		return ""
	}
	return urls[0]
}
