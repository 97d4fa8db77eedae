package kustomize

import (
	"github.com/gitops-gate/gitops-gate/manifests/extract"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"
)

// sourceLocator finds where a rendered value is written when rendering moved
// it away from its file (Kustomize): it re-reads the origin file, finds the
// same object (same kind, the name before any prefix or suffix) and the same
// field path. When the value there differs from the rendered one and the
// app's kustomization has an images: entry for it, that entry is where the
// value is written.
type sourceLocator struct {
	repo          *Repo
	kustomization string // absolute path of the app's kustomization

	mu    sync.Mutex
	files map[string][]Resource
}

func (l *sourceLocator) objects(rel string) []Resource {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.files == nil {
		l.files = map[string][]Resource{}
	}
	if res, ok := l.files[rel]; ok {
		return res
	}
	var res []Resource
	if abs, err := l.repo.abs(rel); err == nil {
		res, _ = l.repo.readShared(abs)
	}
	l.files[rel] = res
	return res
}

func (l *sourceLocator) locate(res *Resource, ref *ImageRef) {
	ref.File = res.File
	var best *Resource
	for _, cand := range l.objects(res.File) {
		if cand.Kind != res.Kind || !strings.Contains(res.Name, cand.Name) {
			continue
		}
		if best == nil || cand.Name == res.Name || len(cand.Name) > len(best.Name) {
			c := cand
			best = &c
		}
	}
	if best == nil {
		return
	}
	ref.Line = best.Line
	n := extract.LookupField(best.Node, ref.FieldPath)
	if n == nil {
		return
	}
	ref.Line = n.Line
	if written, ok := scalarString(n); ok && written != ref.Image {
		if f, line := l.imagesEntry(written); line > 0 {
			ref.File, ref.Line = f, line
		}
	}
}

// kustomizeLocator attributes a Kustomize object to the resource file it
// comes from. When exactly one object of the build's resource files can be
// it (same kind, its name within the rendered name, as name prefixes and
// suffixes leave it), that file is the origin. Otherwise (generated objects,
// renames, look-alikes) the app is built once more with kustomize's own
// origin tracking, which is exact.
type kustomizeLocator struct {
	sourceLocator
	build   *kustomizeBuild
	sources []string // absolute paths of resource files

	once    sync.Once
	origins map[ResourceID]string
}

func (l *kustomizeLocator) locate(res *Resource, ref *ImageRef) {
	var match string
	n := 0
	for _, src := range l.sources {
		rel := l.repo.rel(src)
		for _, cand := range l.objects(rel) {
			if cand.Kind == res.Kind && cand.Name != "" && strings.Contains(res.Name, cand.Name) {
				if match != rel {
					n++
				}
				match = rel
			}
		}
	}
	if n != 1 {
		l.once.Do(func() { _, l.origins, _ = l.build.run(true) })
		match = l.origins[res.ResourceID]
	}
	if match == "" {
		match = res.File // the kustomization
	}
	located := *res
	located.File = match
	l.sourceLocator.locate(&located, ref)
}

// imagesEntry finds the images: entry of the app's kustomization that
// matches the image name of written, as kustomize's image transformer would.
func (l *sourceLocator) imagesEntry(written string) (string, int) {
	rel := l.repo.rel(l.kustomization)
	data, err := l.repo.readFile(l.kustomization)
	if err != nil {
		return "", 0
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return "", 0
	}
	name := extract.ImageName(written)
	imgs := mapGet(doc.Content[0], "images")
	if imgs == nil || imgs.Kind != yaml.SequenceNode {
		return "", 0
	}
	for _, e := range imgs.Content {
		if n, ok := scalarString(mapGet(e, "name")); ok && n == name {
			return rel, deref(e).Line
		}
	}
	return "", 0
}
