package argocd

import (
	"errors"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/helm"
	"github.com/gitops-gate/gitops-gate/manifests/model"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sigs.k8s.io/kustomize/api/types"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Source is the part of an Argo CD ApplicationSource that decides what
// is rendered. The tool sections are kept as nodes so that every field can be
// checked: one that changes the rendered images and is not implemented is an
// error, never ignored.
type Source struct {
	RepoURL        string    `yaml:"repoURL" json:"repoURL,omitempty"`
	Path           string    `yaml:"path" json:"path,omitempty"`
	Chart          string    `yaml:"chart" json:"chart,omitempty"`
	Ref            string    `yaml:"ref" json:"ref,omitempty"`
	TargetRevision string    `yaml:"targetRevision" json:"targetRevision,omitempty"`
	Helm           yaml.Node `yaml:"helm" json:"-"`
	Kustomize      yaml.Node `yaml:"kustomize" json:"-"`
	Directory      yaml.Node `yaml:"directory" json:"-"`
	Plugin         yaml.Node `yaml:"plugin" json:"-"`

	// Node is the source as written, for merging .argocd-source files.
	Node *yaml.Node `yaml:"-" json:"-"`
}

// IsOCI is ApplicationSource.IsOCI in Argo CD's types.go.
func (s *Source) IsOCI() bool { return strings.HasPrefix(s.RepoURL, "oci://") }

// present reports whether a source section is set: Argo CD decodes
// `helm: null` (or a section a merge patch removed) as absent.
func present(n *yaml.Node) bool {
	return n.Kind != 0 && !(n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// Application is an Argo CD Application found in the repository.
type Application struct {
	Name          string
	MetaNamespace string // metadata.namespace: where the Application lives
	Namespace     string // destination namespace
	Project       string
	File          string
	Line          int
	Sources       []Source
	Multi         bool   // spec.sources (Argo CD ignores spec.source then)
	Err           error  // the Application cannot be rendered at all
	Instance      string // Argo CD's InstanceName, set by discovery
	// generatedBy is set when an ApplicationSet generated the Application.
	GeneratedBy *model.GeneratedBy
}

// Where names the file (and line, when the Application is written there
// literally rather than rendered from a template) that defines the Application.
func (a *Application) Where() string {
	if a.Line > 0 {
		return fmt.Sprintf("%s:%d", a.File, a.Line)
	}
	return a.File
}

func Parse(res *model.Resource) (*Application, error) {
	a := &Application{Name: res.Name, MetaNamespace: res.Namespace, File: res.File, Line: res.Line}
	spec := model.MapGet(res.Node, "spec")
	a.Namespace, _ = model.ScalarString(model.MapGet(model.MapGet(spec, "destination"), "namespace"))
	a.Project, _ = model.ScalarString(model.MapGet(spec, "project"))
	if h := model.MapGet(spec, "sourceHydrator"); h != nil && present(h) {
		// With a hydrator Argo CD syncs the hydrated branch, not the sources
		// (ApplicationSpec.HasMultipleSources, GetSource in types.go).
		a.Err = fmt.Errorf("spec.sourceHydrator: Argo CD syncs the manifests its hydrator commits to another branch, which gitops-gate does not see: %w", model.ErrUnsupported)
		return a, nil
	}
	// Argo CD renders spec.sources when it has any, and then ignores
	// spec.source (ApplicationSpec.HasMultipleSources and GetSources in
	// pkg/apis/application/v1alpha1/types.go).
	if srcs := model.MapGet(spec, "sources"); srcs != nil && srcs.Kind == yaml.SequenceNode && len(srcs.Content) > 0 {
		for i, n := range srcs.Content {
			var s Source
			if err := n.Decode(&s); err != nil {
				return nil, fmt.Errorf("spec.sources[%d]: %w", i, err)
			}
			s.Node = n
			a.Sources = append(a.Sources, s)
		}
		a.Multi = true
		return a, nil
	}
	if src := model.MapGet(spec, "source"); src != nil && present(src) {
		var s Source
		if err := src.Decode(&s); err != nil {
			return nil, fmt.Errorf("spec.source: %w", err)
		}
		s.Node = src
		a.Sources = append(a.Sources, s)
	}
	return a, nil
}

// InstanceName is Argo CD's Application.InstanceName: the name when the
// Application lives in Argo CD's own namespace (or says none), else
// namespace_name. Argo CD passes it as the app name to the repo-server,
// which reads .argocd-source-<it>.yaml.
func (a *Application) InstanceName(argoNamespace string) string {
	if a.MetaNamespace == "" || a.MetaNamespace == argoNamespace {
		return a.Name
	}
	return a.MetaNamespace + "_" + a.Name
}

// Fields of Argo CD source tools that do not change which images run or
// Where they land.
var (
	harmlessHelm = set("passCredentials", "skipCrds", "skipSchemaValidation", "skipTests", "version")
	// kubeVersion and apiVersions of a kustomize source only reach
	// kustomize's Helm inflator (helmCharts), which gitops-gate refuses.
	harmlessKustomize = set("namePrefix", "nameSuffix", "commonLabels", "commonAnnotations",
		"commonAnnotationsEnvsubst", "forceCommonLabels", "forceCommonAnnotations",
		"version", "labelWithoutSelector", "labelIncludeTemplates", "kubeVersion", "apiVersions", "replicas")
)

func set(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, e := range s {
		m[e] = true
	}
	return m
}

// SourceField names source number i of the Application in messages.
func (a *Application) SourceField(i int) string {
	if a.Multi {
		return fmt.Sprintf("spec.sources[%d]", i)
	}
	return "spec.source"
}

// RefValueFile splits a value file written $ref/path into the ref's name
// and the path in its repository.
func RefValueFile(vf string) (ref, rest string, ok bool) {
	name, rest, ok := strings.Cut(vf, "/")
	if !ok || !strings.HasPrefix(name, "$") || len(name) == 1 {
		return "", "", false
	}
	return name[1:], rest, true
}

var refKey = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// RefSource is the source whose `ref:` is name: the repository and
// revision $name/… value files are read from (Argo CD's RefTarget; the
// source's path plays no part). As in Argo CD (GetRefSources,
// resolveReferencedSources), a ref key used twice or with other characters
// than letters, digits, '_' and '-' is an error, and so is a ref source
// with a chart.
func (a *Application) RefSource(name string) (Source, error) {
	seen := map[string]bool{}
	var names []string
	found := -1
	for i, s := range a.Sources {
		if s.Ref == "" {
			continue
		}
		if !refKey.MatchString(s.Ref) {
			return Source{}, fmt.Errorf("%s.ref %q cannot contain any special characters except '_' and '-'", a.SourceField(i), s.Ref)
		}
		if seen[s.Ref] {
			return Source{}, fmt.Errorf("invalid sources: more than one source has ref %q", s.Ref)
		}
		seen[s.Ref] = true
		names = append(names, "$"+s.Ref)
		if s.Ref == name {
			found = i
		}
	}
	switch {
	case found >= 0 && a.Sources[found].Chart != "":
		return Source{}, fmt.Errorf("ref source $%s (%s) has a chart: Argo CD reads value files only from Git ref sources", name, a.SourceField(found))
	case found >= 0:
		return a.Sources[found], nil
	case len(names) == 0:
		return Source{}, fmt.Errorf("refers to $%s, but no source has a 'ref' field", name)
	}
	return Source{}, fmt.Errorf("refers to $%s, which is not one of the sources' refs (%s)", name, strings.Join(names, ", "))
}

// ToApp turns one source of an Application into an app. A $ref/… value
// file of a multi-source Application is kept as written (after the build
// environment is substituted in the part after the ref): which files it
// names depends on where the ref source is fetched from, which discovery
// decides (App.ValueSources).
func (a *Application) ToApp(i int, s Source) model.App {
	app := model.App{
		Name:      a.Name,
		Path:      CleanPath(s.Path),
		Namespace: a.Namespace,
		DefinedIn: a.Where(),
		Directory: model.DirectoryOptions{ArgoCD: true},
	}
	if a.Multi {
		app.Name = fmt.Sprintf("%s[%d]", a.Name, i)
	}
	field := a.SourceField(i)
	fail := func(format string, args ...any) model.App {
		app.Err = fmt.Errorf("Application %s (%s): %s: %w", a.Name, app.DefinedIn, fmt.Sprintf(format, args...), model.ErrUnsupported)
		return app
	}
	failErr := func(key string, err error) model.App {
		app.Err = fmt.Errorf("Application %s (%s): %s.%s: %w", a.Name, app.DefinedIn, field, key, err)
		return app
	}
	if a.Err != nil {
		app.Err = fmt.Errorf("Application %s (%s): %w", a.Name, app.DefinedIn, a.Err)
		return app
	}
	env := a.env(s)

	// The tool is the one section the source sets (ApplicationSource.
	// ExplicitType in types.go); more than one is an error in Argo CD too.
	// Only without any is the directory examined.
	var kinds []string
	for _, k := range []struct {
		name string
		node *yaml.Node
		kind model.Kind
	}{{"kustomize", &s.Kustomize, model.KindKustomize}, {"helm", &s.Helm, model.KindHelm}, {"directory", &s.Directory, model.KindPlain}, {"plugin", &s.Plugin, model.KindPlugin}} {
		if present(k.node) {
			kinds = append(kinds, k.name)
			app.Kind = k.kind
		}
	}
	if len(kinds) > 1 {
		app.Kind = ""
		app.Err = fmt.Errorf("Application %s (%s): %s: multiple application sources defined: %s (Argo CD refuses it)", a.Name, app.DefinedIn, field, strings.Join(kinds, ","))
		return app
	}
	if app.Kind == model.KindPlugin {
		name, _ := model.ScalarString(model.MapGet(&s.Plugin, "name"))
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
				app.Helm.ReleaseName, _ = model.ScalarString(v)
			case k == "namespace":
				// The release's namespace (GetNamespaceOrDefault); objects
				// without one still land in the destination namespace.
				app.Helm.Namespace, _ = model.ScalarString(v)
			case k == "kubeVersion":
				app.Helm.KubeVersion, _ = model.ScalarString(v)
			case k == "apiVersions":
				err = v.Decode(&app.Helm.APIVersions)
			case k == "valueFiles":
				err = v.Decode(&app.Helm.ValueFiles)
			case k == "values":
				app.Helm.Values, _ = model.ScalarString(v)
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
				return failErr("helm."+k, err)
			}
		}
		// Argo CD substitutes its build environment in parameter values
		// and value file paths (helmTemplate, getResolvedValueFiles).
		for j := range app.Helm.Parameters {
			v, err := env.subst(app.Helm.Parameters[j].Value)
			if err != nil {
				return failErr(fmt.Sprintf("helm.parameters[%d]", j), err)
			}
			app.Helm.Parameters[j].Value = v
		}
		for j, vf := range app.Helm.ValueFiles {
			ref, rest, isRef := RefValueFile(vf)
			isRef = isRef && a.Multi
			if isRef {
				if _, err := a.RefSource(ref); err != nil {
					return failErr(fmt.Sprintf("helm.valueFiles[%d] %q", j, vf), err)
				}
				// Argo CD substitutes the environment after resolving the
				// ref (getResolvedRefValueFile).
				vf = rest
			}
			vf, err := env.subst(vf)
			if err != nil {
				return failErr(fmt.Sprintf("helm.valueFiles[%d]", j), err)
			}
			switch {
			case strings.Contains(vf, "://"):
				return fail("%s.helm.valueFiles[%d] %q: Argo CD downloads value files given as URLs; gitops-gate does not, so the values it renders with cannot be seen", field, j, vf)
			case strings.ContainsAny(vf, "*?["):
				return fail("%s.helm.valueFiles[%d] %q: glob value files are not implemented", field, j, vf)
			}
			if isRef {
				vf = "$" + ref + "/" + vf
			}
			app.Helm.ValueFiles[j] = vf
		}
		if app.Helm.ReleaseName == "" {
			app.Helm.ReleaseName = a.Name // helmTemplate: the name part of the instance name
		}
	}
	if k := &s.Kustomize; k.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(k.Content); j += 2 {
			key, v := k.Content[j].Value, k.Content[j+1]
			var err error
			switch {
			case harmlessKustomize[key]:
			case key == "images":
				err = v.Decode(&app.Kustomize.Images)
				for n := range app.Kustomize.Images {
					if err == nil {
						app.Kustomize.Images[n], err = env.subst(app.Kustomize.Images[n])
					}
				}
			case key == "namespace":
				app.Kustomize.Namespace, _ = model.ScalarString(v)
			case key == "patches":
				err = v.Decode(&app.Kustomize.Patches)
				if err == nil {
					app.Kustomize.Patches, _ = helm.JSONCompatible(app.Kustomize.Patches).([]any)
				}
			case key == "components":
				err = v.Decode(&app.Kustomize.Components)
			case key == "ignoreMissingComponents":
				err = v.Decode(&app.Kustomize.IgnoreMissingComponents)
			default:
				return fail("%s.kustomize.%s is not implemented (it can change the rendered images)", field, key)
			}
			if err != nil {
				return failErr("kustomize."+key, err)
			}
		}
	}
	if d := &s.Directory; d.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(d.Content); j += 2 {
			key, v := d.Content[j].Value, d.Content[j+1]
			var err error
			switch key {
			case "recurse":
				err = v.Decode(&app.Directory.Recurse)
			case "include":
				app.Directory.Include, _ = model.ScalarString(v)
			case "exclude":
				app.Directory.Exclude, _ = model.ScalarString(v)
			case "disableExtensionFilter":
				err = v.Decode(&app.Directory.DisableExtensionFilter)
			case "jsonnet":
				// Options of the directory's Jsonnet files (renderPlain
				// evaluates them, as Argo CD does).
				if err := decodeJsonnet(v, &app.Directory.Jsonnet); err != nil {
					return fail("%s.directory.jsonnet: %v", field, err)
				}
			default:
				return fail("%s.directory.%s is not implemented", field, key)
			}
			if err != nil {
				return failErr("directory."+key, err)
			}
		}
	}
	return app
}

// argoEnv is the build environment Argo CD substitutes in some source
// options (newEnv and Env.Envsubst in repository.go and types.go). Names it
// sets that gitops-gate cannot know are in unknown.
type argoEnv struct {
	known   map[string]string
	unknown map[string]bool
}

func (a *Application) env(s Source) argoEnv {
	instance := a.Instance
	if instance == "" {
		instance = a.Name
	}
	return argoEnv{
		known: map[string]string{
			"ARGOCD_APP_NAME":                   instance,
			"ARGOCD_APP_NAMESPACE":              a.Namespace,
			"ARGOCD_APP_PROJECT_NAME":           a.Project,
			"ARGOCD_APP_SOURCE_REPO_URL":        s.RepoURL,
			"ARGOCD_APP_SOURCE_PATH":            s.Path,
			"ARGOCD_APP_SOURCE_TARGET_REVISION": s.TargetRevision,
		},
		// The revision is the commit Argo CD resolved, not known here.
		unknown: set("ARGOCD_APP_REVISION", "ARGOCD_APP_REVISION_SHORT", "ARGOCD_APP_REVISION_SHORT_8"),
	}
}

// subst is Argo CD's Env.Envsubst: os.Expand with `$$` for `$`, and an
// empty string for a name it does not set. A name whose value only Argo CD
// knows is an error naming it.
func (e argoEnv) subst(s string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var bad []string
	out := os.Expand(s, func(name string) string {
		if name == "$" {
			return "$"
		}
		if e.unknown[name] {
			bad = append(bad, name)
		}
		return e.known[name]
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("%q uses $%s, which Argo CD sets to the commit it syncs; gitops-gate cannot know it here: %w", s, bad[0], model.ErrUnsupported)
	}
	return out, nil
}

// Argo CD's source override files (repoSourceFile and appSourceFile in
// reposerver/repository/repository.go).
const (
	SourceFile    = ".argocd-source.yaml"
	AppSourceFile = ".argocd-source-%s.yaml"
)

// SourceOverrides lists the files in an app's directory dir that Argo
// CD may merge into the source of the Application appName before it
// decides how to render it: .argocd-source.yaml, .argocd-source-<name>.yaml
// and .argocd-source-<namespace>_<name>.yaml (the name Argo CD uses for an
// Application outside its own namespace). appName may be the Application's
// name or its instance name (namespace_name). Paths are joined to dir, in
// that order; a directory of such a name is not listed, as Argo CD skips it.
func SourceOverrides(dir, appName string) []string {
	name := appName
	if i := strings.LastIndexByte(name, '_'); i >= 0 {
		name = name[i+1:] // Kubernetes names have no '_'
	}
	var out []string
	add := func(base string) {
		p := filepath.Join(dir, base)
		// Argo CD stats the file: a missing one (or a dangling link) and a
		// directory are skipped.
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return
		}
		for _, o := range out {
			if o == p {
				return
			}
		}
		out = append(out, p)
	}
	add(SourceFile)
	if appName != "" {
		add(fmt.Sprintf(AppSourceFile, appName))
		add(fmt.Sprintf(AppSourceFile, name))
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if n := e.Name(); strings.HasPrefix(n, ".argocd-source-") && strings.HasSuffix(n, "_"+name+".yaml") {
				add(n)
			}
		}
	}
	return out
}

// MergePatch applies a JSON merge patch (RFC 7386), as jsonpatch.MergePatch
// in Argo CD's mergeSourceParameters.
func MergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
		} else {
			tm[k] = MergePatch(tm[k], v)
		}
	}
	return tm
}

func CleanPath(p string) string {
	p = strings.Trim(strings.TrimSpace(p), "/")
	if p == "" {
		return "."
	}
	return p
}

// NormalizeRepoURL makes the many spellings of one Git repository compare
// equal: scheme, user, .git suffix, trailing slash and host case.
func NormalizeRepoURL(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "git@") { // scp-like: git@github.com:org/repo.git
		s = "ssh://" + strings.Replace(strings.TrimPrefix(s, "git@"), ":", "/", 1)
	}
	if u, err := url.Parse(withScheme(s)); err == nil && u.Host != "" {
		// The port stays: another port is another server.
		s = strings.ToLower(u.Host) + u.Path
	}
	s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
	return strings.ToLower(s)
}

// withScheme gives a scheme-less repository (Argo CD's Helm OCI form,
// host[:port]/path) one, so that it parses as a host and path like the
// same repository written with oci://.
func withScheme(s string) string {
	if s == "" || strings.Contains(s, "://") {
		return s
	}
	return "oci://" + s
}

// InferRepoURL picks the repository URL most Applications use for paths
// that exist in this checkout: the checkout is most likely that repository.
func InferRepoURL(apps []*Application, exists func(string) bool) string {
	count := map[string]int{}
	for _, a := range apps {
		for _, s := range a.Sources {
			if s.Chart == "" && s.RepoURL != "" && exists(CleanPath(s.Path)) {
				count[NormalizeRepoURL(s.RepoURL)]++
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

// decodeJsonnet reads spec.source.directory.jsonnet. A field it does not
// know may change the output, so it is an error.
func decodeJsonnet(n *yaml.Node, o *model.JsonnetOptions) error {
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return nil
		}
		return errors.New("want a mapping")
	}
	for j := 0; j+1 < len(n.Content); j += 2 {
		switch k := n.Content[j].Value; k {
		case "tlas", "extVars", "libs":
		default:
			return fmt.Errorf("%s is not implemented", k)
		}
	}
	return n.Decode(o)
}

var setImageTag = regexp.MustCompile(`^(.*):([a-zA-Z0-9._-]*)$`)

// ParseImageOverrides parses Argo CD kustomize.images entries, which use the
// syntax of `kustomize edit set image`:
//
//	<image>=<newimage>[:<newtag>][@<digest>] | <image>:<newtag> | <image>@<digest>
func ParseImageOverrides(args []string) ([]types.Image, error) {
	var out []types.Image
	for _, arg := range args {
		name, rest, renamed := strings.Cut(arg, "=")
		var img types.Image
		ref := arg
		if renamed {
			ref = rest
		}
		repo, digest, hasDigest := strings.Cut(ref, "@")
		tag := ""
		if m := setImageTag.FindStringSubmatch(repo); m != nil && !strings.Contains(m[2], "/") {
			repo, tag = m[1], m[2]
		}
		if hasDigest {
			img.Digest = digest
		}
		img.NewTag = tag
		if renamed {
			img.Name, img.NewName = name, repo
		} else {
			img.Name = repo
		}
		if img.Name == "" || (!renamed && tag == "" && !hasDigest) {
			return nil, fmt.Errorf("%q: want <image>=<newimage>[:<newtag>][@<digest>], <image>:<newtag> or <image>@<digest>", arg)
		}
		out = append(out, img)
	}
	return out, nil
}
