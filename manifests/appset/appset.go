package appset

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"text/template"
)

// Annotations written on every generated Application.
const (
	// AnnotationGeneratedBy names the ApplicationSet that generated the app.
	AnnotationGeneratedBy = "gitops-gate.dev/generated-by"
	// AnnotationGenerator names the generator, e.g. "generators[0].matrix".
	AnnotationGenerator = "gitops-gate.dev/generator"
)

// DefaultMaxApps bounds the Applications one ApplicationSet may generate: a
// matrix of two large generators multiplies, and the gate renders every app.
const DefaultMaxApps = 10_000

// DefaultMaxFileSize bounds a git files generator's file.
const DefaultMaxFileSize = 4 << 20

// Cluster is one cluster of the gate's configured cluster list, what Argo CD
// keeps in its cluster secrets.
type Cluster struct {
	Name        string            `json:"name" yaml:"name"`
	Server      string            `json:"server" yaml:"server"`
	Labels      map[string]string `json:"labels,omitempty" yaml:"labels"`
	Annotations map[string]string `json:"annotations,omitempty" yaml:"annotations"`
}

// InClusterServer is the URL of the cluster Argo CD runs in.
const InClusterServer = "https://kubernetes.default.svc"

// Options is what expansion may read. The zero value expands list, matrix
// and merge generators; git generators need Repo, clusters generators use
// Clusters (plus Argo CD's in-cluster default).
type Options struct {
	// Repo is the checkout, rooted at the repository. It must refuse paths
	// that leave the repository (an os.Root's FS does).
	Repo fs.FS
	// IsThisRepo reports whether a git generator's repoURL is the checked
	// out repository. Nil means no URL is.
	IsThisRepo func(repoURL string) bool
	// Clusters is the configured cluster list. As in Argo CD, the in-cluster
	// cluster (InClusterServer, named "in-cluster") is added when no entry
	// has its server, unless NoInCluster is set.
	Clusters    []Cluster
	NoInCluster bool
	// MaxApps and MaxFileSize default to DefaultMaxApps and DefaultMaxFileSize.
	MaxApps     int
	MaxFileSize int64
}

// App is one generated Application.
type App struct {
	// Object is the Application, in the shape it has in YAML or JSON
	// (apiVersion, kind, metadata, spec).
	Object map[string]any
	// Generator is the generator that produced it, e.g. "generators[1].git".
	Generator string
}

// Name is the generated Application's metadata.name.
func (a App) Name() string {
	s, _ := dig(a.Object, "metadata", "name").(string)
	return s
}

// GeneratorError is a generator that could not be expanded.
type GeneratorError struct {
	AppSet    string
	Generator string // e.g. "generators[0].pullRequest"
	Err       error
}

func (e *GeneratorError) Error() string {
	return fmt.Sprintf("ApplicationSet %s: %s: %v", e.AppSet, e.Generator, e.Err)
}

func (e *GeneratorError) Unwrap() error { return e.Err }

// ErrNeedsLiveService marks generators that read a service the gate does not
// reach (an SCM API, a cluster resource, a plugin).
var ErrNeedsLiveService = errors.New("needs a live service, so the gate cannot expand it offline")

// ErrOtherRepo marks a git generator whose repoURL is not the checkout.
var ErrOtherRepo = errors.New("not the repository under review")

// ErrUnsupported marks ApplicationSet fields the gate does not implement.
var ErrUnsupported = errors.New("not supported")

// Result is the expansion of one ApplicationSet.
type Result struct {
	Name string
	Apps []App
	// Errors has one entry per generator (or template) that failed. Apps of
	// the other generators are still returned.
	Errors []error
}

// spec is the part of an ApplicationSet that drives generation.
type spec struct {
	name                 string
	namespace            string
	goTemplate           bool
	goOptions            []string
	template             map[string]any
	templatePatch        string
	applyNestedSelectors bool
}

// Expand generates the Applications of one ApplicationSet object (decoded
// from YAML or JSON into maps, slices and scalars).
func Expand(ctx context.Context, obj map[string]any, opts Options) *Result {
	if opts.MaxApps <= 0 {
		opts.MaxApps = DefaultMaxApps
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	res := &Result{}
	res.Name, _ = dig(obj, "metadata", "name").(string)
	fail := func(gen string, err error) {
		res.Errors = append(res.Errors, &GeneratorError{AppSet: res.Name, Generator: gen, Err: err})
	}
	sp, ok := obj["spec"].(map[string]any)
	if !ok {
		fail("spec", errors.New("missing or not an object"))
		return res
	}
	s := &spec{name: res.Name, template: map[string]any{}}
	s.namespace, _ = dig(obj, "metadata", "namespace").(string)
	for k, v := range sp {
		var err error
		switch k {
		case "goTemplate":
			s.goTemplate, ok = v.(bool)
			if !ok && v != nil {
				err = fmt.Errorf("want true or false, got %v", v)
			}
		case "goTemplateOptions":
			s.goOptions, err = stringList(v)
		case "template":
			if v != nil {
				s.template, ok = v.(map[string]any)
				if !ok {
					err = errors.New("want an object")
				}
			}
		case "templatePatch":
			s.templatePatch, ok = v.(string)
			if !ok && v != nil {
				err = errors.New("want a string")
			}
		case "applyNestedSelectors":
			s.applyNestedSelectors, _ = v.(bool)
		case "generators", "syncPolicy", "strategy", "preservedFields", "ignoreApplicationDifferences":
			// syncPolicy, strategy and the rest steer how Argo CD applies the
			// apps, not which apps exist or what they render.
		default:
			err = fmt.Errorf("field is %w (it may change the generated apps)", ErrUnsupported)
		}
		if err != nil {
			fail("spec."+k, err)
		}
	}
	if len(res.Errors) > 0 {
		return res
	}
	gens, ok := sp["generators"].([]any)
	if !ok || len(gens) == 0 {
		fail("spec.generators", errors.New("no generators"))
		return res
	}
	e := &expander{spec: s, opts: opts, ctx: ctx}
	names := map[string]string{}
	for i, g := range gens {
		where := fmt.Sprintf("generators[%d]", i)
		gm, ok := g.(map[string]any)
		if !ok {
			fail(where, errors.New("want an object"))
			continue
		}
		results, err := e.transform(gm, where, s.template, nil, 0)
		if err != nil {
			fail(where, err)
			continue
		}
		for _, tr := range results {
			for _, p := range tr.params {
				if len(res.Apps) >= opts.MaxApps {
					fail(tr.where, fmt.Errorf("more than %d Applications: %w", opts.MaxApps, errTooMany))
					return res
				}
				app, err := e.render(tr.template, p)
				if err != nil {
					fail(tr.where, err)
					continue
				}
				app["metadata"].(map[string]any)["annotations"].(map[string]any)[AnnotationGenerator] = tr.where
				ga := App{Object: app, Generator: tr.where}
				name := ga.Name()
				if prev, dup := names[name]; dup {
					// Argo CD refuses the whole ApplicationSet; the gate still
					// checks both, and says why Argo CD would not sync them.
					fail(tr.where, fmt.Errorf("generates Application %q twice (also from %s); Argo CD rejects duplicate names", name, prev))
				}
				names[name] = tr.where
				res.Apps = append(res.Apps, ga)
			}
		}
	}
	return res
}

var errTooMany = errors.New("too many generated apps")

// generatorKinds are the generator fields Argo CD knows; live ones need a
// service the gate does not reach.
var (
	offlineGenerators = []string{"list", "clusters", "git", "matrix", "merge"}
	liveGenerators    = []string{"pullRequest", "scmProvider", "clusterDecisionResource", "plugin"}
)

type transformResult struct {
	where    string
	params   []map[string]any
	template map[string]any
}

type expander struct {
	*spec
	opts Options
	ctx  context.Context

	parsed map[string]*template.Template // Go templates by source

	dirs  []string // all directories of the checkout, lazily listed
	files []string
	walk  error
}

// transform is Argo CD's generators.Transform: the params of each
// generator in gm (normally one), filtered by gm's selector, with the
// generator's template merged over base. interp holds the params of a
// matrix's earlier child, substituted into this generator first.
func (e *expander) transform(gm map[string]any, where string, base map[string]any, interp map[string]any, depth int) ([]transformResult, error) {
	if err := e.ctx.Err(); err != nil {
		return nil, err
	}
	var sel *selector
	var kinds []string
	for k, v := range gm {
		switch {
		case k == "selector":
			var err error
			if sel, err = parseSelector(v); err != nil {
				return nil, fmt.Errorf("selector: %w", err)
			}
		case contains(offlineGenerators, k):
			kinds = append(kinds, k)
		case contains(liveGenerators, k):
			return nil, fmt.Errorf("%s generator %w; the Applications it would create are not checked, so this is an error", k, ErrNeedsLiveService)
		default:
			return nil, fmt.Errorf("unknown generator field %q: %w", k, ErrUnsupported)
		}
	}
	if len(kinds) == 0 {
		return nil, errors.New("no generator")
	}
	sort.Strings(kinds)
	if interp != nil {
		// Argo CD renders the whole generator with the earlier child's
		// params (matrix), then generates from the result.
		r, err := e.replaceDeep(gm, interp)
		if err != nil {
			return nil, fmt.Errorf("interpolating with the matrix's earlier generator: %w", err)
		}
		gm = r.(map[string]any)
	}
	var out []transformResult
	for _, k := range kinds {
		gw := where + "." + k
		body, _ := gm[k].(map[string]any)
		if body == nil && gm[k] != nil {
			return nil, fmt.Errorf("%s: want an object", gw)
		}
		if body == nil {
			body = map[string]any{}
		}
		tmpl := base
		if gt, ok := body["template"].(map[string]any); ok && len(gt) > 0 {
			tmpl = mergeTemplate(gt, base)
		}
		var params []map[string]any
		var err error
		switch k {
		case "list":
			params, err = e.list(body)
		case "clusters":
			params, err = e.clusters(body)
		case "git":
			params, err = e.git(body)
		case "matrix":
			params, err = e.matrix(body, gw, depth)
		case "merge":
			params, err = e.merge(body, gw, depth)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if sel != nil {
			kept := params[:0:0]
			for _, p := range params {
				if sel.matches(stringValues(p)) {
					kept = append(kept, p)
				}
			}
			params = kept
		}
		if len(params) > e.opts.MaxApps {
			return nil, fmt.Errorf("%s: more than %d parameter sets: %w", k, e.opts.MaxApps, errTooMany)
		}
		out = append(out, transformResult{where: gw, params: params, template: tmpl})
	}
	return out, nil
}

// child runs one generator nested in a matrix or merge. Argo CD allows one
// level of nesting and gives nested generators no template.
func (e *expander) child(g any, where string, interp map[string]any, depth int) ([]map[string]any, error) {
	gm, ok := g.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an object", where)
	}
	if depth >= 1 {
		if _, ok := gm["matrix"]; ok {
			return nil, fmt.Errorf("%s: matrix nested more than one level is not allowed by Argo CD", where)
		}
		if _, ok := gm["merge"]; ok {
			return nil, fmt.Errorf("%s: merge nested more than one level is not allowed by Argo CD", where)
		}
	}
	if depth >= 1 && !e.applyNestedSelectors {
		// Argo CD ignores selectors of the generators inside a nested
		// matrix or merge unless spec.applyNestedSelectors is set.
		if _, ok := gm["selector"]; ok {
			gm = without(gm, "selector")
		}
	}
	trs, err := e.transform(gm, where, map[string]any{}, interp, depth+1)
	if err != nil {
		return nil, err
	}
	if len(trs) > 1 {
		return nil, fmt.Errorf("%s: found more than one generator in one entry", where)
	}
	return trs[0].params, nil
}

func without(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func stringList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, errors.New("want a list of strings")
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, errors.New("want a list of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

func dig(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// stringValues keeps the string values of params: Argo CD's selectors see
// only those (keepOnlyStringValues).
func stringValues(p map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range p {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

func trimSlash(s string) string { return strings.Trim(s, "/") }
