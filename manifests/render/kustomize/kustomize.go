package kustomize

import (
	"context"
	"errors"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/argocd"
	"github.com/gitops-gate/gitops-gate/manifests/extract"
	"os"
	"path/filepath"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// renderKustomize builds a kustomization in-process with krusty: load
// restrictor root-only, plugins disabled, no remote bases, every read confined
// to the repository.
//
// Objects are attributed to their source file without kustomize's origin
// tracking when that is unambiguous (see kustomizeLocator); tracking costs a
// fifth of the build, so it is paid only for the apps that need it.
func (r *Repo) renderKustomize(ctx context.Context, dir string, out *Rendered) {
	r.recordDir(dir)
	kfile := kustomizationFile(dir)
	if kfile == "" {
		out.Err = &FileError{File: out.App.Path, Err: errors.New("no kustomization.yaml")}
		return
	}
	var sources []string
	if err := r.checkLocalOnly(kfile, map[string]bool{}, &sources); err != nil {
		out.Err = err
		return
	}
	overrides, err := argocd.ParseImageOverrides(out.App.Kustomize.Images)
	if err != nil {
		out.Err = fmt.Errorf("app %s: kustomize.images: %w", out.App.Name, err)
		return
	}
	opts := out.App.Kustomize
	opts.Components, err = r.checkComponents(dir, opts, &sources)
	if err != nil {
		out.Err = fmt.Errorf("app %s: kustomize.components: %w", out.App.Name, err)
		return
	}
	if err := ctx.Err(); err != nil {
		out.Err = err
		return
	}
	b := &kustomizeBuild{repo: r, dir: dir, kfile: kfile, overrides: overrides, opts: opts}
	objs, _, err := b.run(false)
	if err != nil {
		out.Err = fmt.Errorf("kustomize build %s: %w", out.App.Path, r.redactErr(err))
		return
	}
	out.Resources = objs
	loc := &kustomizeLocator{sourceLocator: sourceLocator{repo: r, kustomization: kfile}, build: b, sources: sources}
	out.Locate = loc.locate
}

// kustomizeBuild is one app's build, repeatable with origin tracking.
type kustomizeBuild struct {
	repo      *Repo
	dir       string
	kfile     string
	overrides []types.Image
	opts      KustomizeOptions
}

// run builds the app. With origins, it also returns the source file of
// every object, from kustomize's own origin annotations.
func (b *kustomizeBuild) run(origins bool) ([]Resource, map[ResourceID]string, error) {
	r := b.repo
	fsys := &confinedFS{FileSystem: filesys.MakeFsOnDisk(), repo: r, rootKust: b.kfile, overrides: b.overrides, opts: b.opts, trackOrigins: origins}
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsRootOnly
	opts.PluginConfig = types.DisabledPluginConfig()
	resMap, err := krusty.MakeKustomizer(opts).Run(fsys, b.dir)
	if err != nil {
		return nil, nil, err
	}
	kfileRel := r.rel(b.kfile)
	files := map[ResourceID]string{}
	var out []Resource
	var errs []error
	for _, res := range resMap.Resources() {
		file := kfileRel
		if o, err := res.GetOrigin(); origins && err == nil && o != nil && o.Repo == "" {
			switch {
			case o.Path != "":
				file = r.rel(filepath.Join(b.dir, filepath.FromSlash(o.Path)))
			case o.ConfiguredIn != "":
				file = r.rel(filepath.Join(b.dir, filepath.FromSlash(o.ConfiguredIn)))
			}
		}
		if origins && !fsys.userOrigins {
			if err := removeOriginAnnotation(res); err != nil {
				errs = append(errs, err)
			}
		}
		// Argo CD applies what `kustomize build` prints: each resource's
		// JSON (MarshalJSON) as YAML, read back to the same object. The
		// resource's own yaml.v3 node is held to that JSON, rather than
		// printing and parsing every object again.
		node := res.YNode()
		if node.Kind == yaml.DocumentNode && len(node.Content) > 0 {
			node = node.Content[0]
		}
		printed, err := res.MarshalJSON()
		if err != nil {
			errs = append(errs, &FileError{File: file, Err: fmt.Errorf("%s: %w", res.CurId(), err)})
			continue
		}
		objs, err := extract.DecodeRenderedNode(file, node, printed, r.opts.MaxDocumentNodes)
		errs = append(errs, err)
		for i := range objs {
			objs[i].Line = 0
			files[objs[i].ResourceID] = file
		}
		out = append(out, objs...)
	}
	return out, files, errors.Join(errs...)
}

func removeOriginAnnotation(res *resource.Resource) error {
	ann := res.GetAnnotations()
	if _, ok := ann["config.kubernetes.io/origin"]; !ok {
		return nil
	}
	delete(ann, "config.kubernetes.io/origin")
	return res.SetAnnotations(ann)
}

// confinedFS is the disk, seen through the repository's rules: nothing
// outside the root is read, files are bounded in size, and the app's own
// kustomization gets origin tracking and Argo CD image overrides.
type confinedFS struct {
	filesys.FileSystem
	repo      *Repo
	rootKust  string
	overrides []types.Image
	opts      KustomizeOptions // Argo CD's edits of the root kustomization

	trackOrigins bool // add buildMetadata: [originAnnotations]
	userOrigins  bool // the kustomization itself asked for origin annotations
}

func (f *confinedFS) ReadFile(p string) ([]byte, error) {
	data, err := f.repo.readFile(p)
	if err != nil {
		return nil, err
	}
	if err := checkAliases(f.repo.rel(p), data, f.repo.opts.MaxDocumentNodes); err != nil {
		return nil, err
	}
	if filepath.Clean(p) != f.rootKust {
		return data, nil
	}
	return f.patchRoot(data)
}

func (f *confinedFS) Open(p string) (filesys.File, error) {
	if _, err := f.repo.confine(p); err != nil {
		return nil, err
	}
	f.repo.readFile(p) // records what is about to be read
	return f.FileSystem.Open(p)
}

func (f *confinedFS) ReadDir(p string) ([]string, error) {
	if _, err := f.repo.confine(p); err != nil {
		return nil, err
	}
	f.repo.recordDir(p)
	return f.FileSystem.ReadDir(p)
}

// The probes below decide which file kustomize reads (which of the
// kustomization file names exists, whether a resource is a file or a
// base): each records the listing of the directory it looks in. What
// cannot be recorded exactly marks the app always rendered.

func (f *confinedFS) Exists(p string) bool {
	f.repo.recordProbe(p)
	return f.FileSystem.Exists(p)
}

func (f *confinedFS) IsDir(p string) bool {
	f.repo.recordProbe(p)
	return f.FileSystem.IsDir(p)
}

func (f *confinedFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	f.repo.recordProbe(p)
	return f.FileSystem.CleanedAbs(p)
}

func (f *confinedFS) Glob(pattern string) ([]string, error) {
	f.repo.recordAlways("kustomize matched a glob: " + f.repo.rel(pattern))
	return f.FileSystem.Glob(pattern)
}

func (f *confinedFS) Walk(p string, fn filepath.WalkFunc) error {
	f.repo.recordAlways("kustomize walked a directory: " + f.repo.rel(p))
	return f.FileSystem.Walk(p, fn)
}

// patchRoot adds buildMetadata: [originAnnotations] when tracking origins, and applies image
// overrides the way `kustomize edit set image` does (which is how Argo CD
// applies spec.source.kustomize.images): an override replaces the entry of
// the same name, and the list is sorted by name.
func (f *confinedFS) patchRoot(data []byte) ([]byte, error) {
	var k map[string]any
	if err := yaml.Unmarshal(data, &k); err != nil || k == nil {
		return data, nil // let kustomize report the syntax error with its context
	}
	meta, _ := k["buildMetadata"].([]any)
	for _, m := range meta {
		if m == types.OriginAnnotations {
			f.userOrigins = true
		}
	}
	if f.trackOrigins && !f.userOrigins {
		k["buildMetadata"] = append(meta, types.OriginAnnotations)
	}
	// Argo CD edits the kustomization before it builds (Build in
	// util/kustomize/kustomize.go): `kustomize edit set namespace`, patches
	// appended to patches:, `kustomize edit add component`.
	if f.opts.Namespace != "" {
		k["namespace"] = f.opts.Namespace
	}
	if len(f.opts.Patches) > 0 {
		existing, ok := k["patches"].([]any)
		if _, has := k["patches"]; has && !ok {
			return nil, fmt.Errorf("%s: patches is not a list, so Argo CD's kustomize.patches cannot be added", f.repo.rel(f.rootKust))
		}
		k["patches"] = append(existing, f.opts.Patches...)
	}
	if len(f.opts.Components) > 0 {
		comps, _ := k["components"].([]any)
	next:
		for _, c := range f.opts.Components {
			for _, e := range comps {
				if e == c {
					continue next // kustomize edit add component skips a listed one
				}
			}
			comps = append(comps, c)
		}
		k["components"] = comps
	}
	if len(f.overrides) > 0 {
		byName := map[string]any{}
		var order []string
		if imgs, ok := k["images"].([]any); ok {
			for _, im := range imgs {
				if m, ok := im.(map[string]any); ok {
					n, _ := m["name"].(string)
					if _, dup := byName[n]; !dup {
						order = append(order, n)
					}
					byName[n] = m
				}
			}
		}
		for _, o := range f.overrides {
			if _, dup := byName[o.Name]; !dup {
				order = append(order, o.Name)
			}
			m := map[string]any{"name": o.Name}
			if o.NewName != "" {
				m["newName"] = o.NewName
			}
			if o.NewTag != "" {
				m["newTag"] = o.NewTag
			}
			if o.Digest != "" {
				m["digest"] = o.Digest
			}
			byName[o.Name] = m
		}
		sort.Strings(order)
		imgs := make([]any, 0, len(order))
		for _, n := range order {
			imgs = append(imgs, byName[n])
		}
		k["images"] = imgs
	}
	return yaml.Marshal(k)
}

// checkComponents vets the components an Application adds (Argo CD's
// kustomize.components) as checkLocalOnly vets a kustomization's own: local,
// inside the repository. With IgnoreMissingComponents the ones that do not
// exist are dropped, as Argo CD drops them. It returns the components to add.
func (r *Repo) checkComponents(dir string, opts KustomizeOptions, sources *[]string) ([]string, error) {
	var keep []string
	seen := map[string]bool{}
	for _, c := range opts.Components {
		local := filepath.Join(dir, filepath.FromSlash(c))
		r.recordProbe(local)
		st, err := os.Stat(local)
		switch {
		case err != nil && looksRemote(c):
			return nil, fmt.Errorf("remote component %q: remote Kustomize bases are %w", c, ErrUnsupported)
		case !within(r.root, filepath.Clean(local)):
			if opts.IgnoreMissingComponents {
				continue // Argo CD's os.Root refuses it, and it counts as missing
			}
			return nil, fmt.Errorf("%q is %w", c, ErrOutsideRepo)
		case err != nil:
			if opts.IgnoreMissingComponents {
				continue
			}
			keep = append(keep, c) // kustomize reports it with its context
			continue
		}
		if _, err := r.confine(local); err != nil {
			return nil, fmt.Errorf("%q: %w", c, err)
		}
		if st.IsDir() {
			r.recordDir(local)
			if k := kustomizationFile(local); k != "" {
				if err := r.checkLocalOnly(k, seen, sources); err != nil {
					return nil, err
				}
			}
		}
		keep = append(keep, c)
	}
	return keep, nil
}

// pathFields are the kustomization fields that name files or directories
// to load. Any of them may hold a URL, which kustomize would fetch.
var pathFields = []string{"resources", "bases", "components", "crds", "configurations",
	"transformers", "generators", "validators", "patchesStrategicMerge"}

// checkLocalOnly refuses, before kustomize runs, any kustomization (the app's
// or one of its local bases) that would fetch a remote base or file: the gate
// renders what is in the repository and contacts nothing but registries.
//
// It also collects in sources the resource files the build can load objects
// from, for attributing objects to files.
func (r *Repo) checkLocalOnly(kfile string, seen map[string]bool, sources *[]string) error {
	if seen[kfile] {
		return nil
	}
	seen[kfile] = true
	data, err := r.readFile(kfile)
	if err != nil {
		return err
	}
	rel := r.rel(kfile)
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		fe := &FileError{File: rel, Err: fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			fmt.Sscan(m[1], &fe.Line)
		}
		return fe
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	dir := filepath.Dir(kfile)
	if n := mapKey(root, "helmCharts"); n != nil {
		return &FileError{File: rel, Line: n.Line, Err: fmt.Errorf("helmCharts: Kustomize's Helm inflator is %w (it runs the helm binary and downloads charts); make the chart a Helm app instead", ErrUnsupported)}
	}
	var paths []*yaml.Node
	var generatorFiles []*yaml.Node // "key=path" entries
	resourceEntries := map[*yaml.Node]bool{}
	for _, f := range pathFields {
		if seq := mapGet(root, f); seq != nil && seq.Kind == yaml.SequenceNode {
			paths = append(paths, seq.Content...)
			if f == "resources" || f == "bases" || f == "components" {
				for _, n := range seq.Content {
					resourceEntries[n] = true
				}
			}
		}
	}
	for _, f := range []string{"patches", "patchesJson6902", "replacements"} {
		if seq := mapGet(root, f); seq != nil && seq.Kind == yaml.SequenceNode {
			for _, e := range seq.Content {
				if p := mapGet(e, "path"); p != nil {
					paths = append(paths, p)
				}
			}
		}
	}
	for _, f := range []string{"configMapGenerator", "secretGenerator"} {
		if seq := mapGet(root, f); seq != nil && seq.Kind == yaml.SequenceNode {
			for _, e := range seq.Content {
				if l := mapGet(e, "files"); l != nil && l.Kind == yaml.SequenceNode {
					generatorFiles = append(generatorFiles, l.Content...)
				}
				if l := mapGet(e, "envs"); l != nil && l.Kind == yaml.SequenceNode {
					paths = append(paths, l.Content...)
				}
				if p := mapGet(e, "env"); p != nil {
					paths = append(paths, p)
				}
			}
		}
	}
	if p := mapGet(mapGet(root, "openapi"), "path"); p != nil {
		paths = append(paths, p)
	}
	for _, n := range generatorFiles {
		if s, ok := scalarString(n); ok {
			if _, file, ok := strings.Cut(s, "="); ok {
				n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: file, Line: n.Line}
			}
			paths = append(paths, n)
		}
	}
	for _, n := range paths {
		s, ok := scalarString(n)
		if !ok || strings.Contains(s, "\n") {
			continue // an inline object or patch, not a path
		}
		local := filepath.Join(dir, filepath.FromSlash(s))
		r.recordProbe(local)
		st, statErr := os.Stat(local)
		if statErr != nil {
			if looksRemote(s) {
				return &FileError{File: rel, Line: n.Line, Err: fmt.Errorf("remote base or file %q: remote Kustomize bases are %w; vendor it into the repository", s, ErrUnsupported)}
			}
			continue // missing: kustomize reports it with its own context
		}
		if !within(r.root, filepath.Clean(local)) {
			return &FileError{File: rel, Line: n.Line, Err: fmt.Errorf("%q is %w", s, ErrOutsideRepo)}
		}
		if _, err := r.confine(local); err != nil {
			return &FileError{File: rel, Line: n.Line, Err: fmt.Errorf("%q: %w", s, err)}
		}
		if st.IsDir() {
			r.recordDir(local)
			if k := kustomizationFile(local); k != "" {
				if _, err := r.confine(k); err != nil {
					return err
				}
				if err := r.checkLocalOnly(k, seen, sources); err != nil {
					return err
				}
			}
		} else if resourceEntries[n] {
			*sources = append(*sources, filepath.Clean(local))
		}
	}
	return nil
}

// looksRemote recognises what kustomize would fetch: URLs, scp-like git
// addresses and host/org/repo paths (github.com/org/repo//dir?ref=v1).
func looksRemote(s string) bool {
	switch {
	case strings.Contains(s, "://"), strings.HasPrefix(s, "git@"), strings.HasPrefix(s, "git::"),
		strings.Contains(s, "?ref="), strings.Contains(s, "?version="), strings.Contains(s, ".git//"):
		return true
	}
	first, _, _ := strings.Cut(s, "/")
	return strings.Contains(first, ".") && first != "." && first != ".." && strings.Count(s, "/") >= 2
}
