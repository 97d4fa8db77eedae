package pin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/argocd"
	"github.com/gitops-gate/gitops-gate/manifests/extract"
	"github.com/gitops-gate/gitops-gate/manifests/model"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// Tree is the checkout pinning reads and writes; every path it returns is
// confined to the repository (see manifests.Repo).
type Tree interface {
	// Abs turns a repository-relative path into a confined absolute one.
	Abs(rel string) (string, error)
	// Confine resolves symlinks of an absolute path and checks that it stays
	// in the repository.
	Confine(abs string) (string, error)
	// ReadFile reads a file, bounded in size.
	ReadFile(abs string) ([]byte, error)
	// ReadManifests reads and decodes a manifest file.
	ReadManifests(abs string) ([]model.Resource, error)
}

// Rendered is one rendered app as pinning sees it: the app and its image
// references, located in the repository.
type Rendered struct {
	App    model.App
	Images func() []extract.ImageRef
}

// Edit is one change of a source file: the scalar at Line:Column (1-based)
// becomes New, or, with Insert, a new line is added after Line.
type Edit struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Old    string `json:"old"`
	New    string `json:"new"`
	Insert bool   `json:"insert,omitempty"`
	// Image and Resource say what the edit pins.
	Image string `json:"image"`
}

// Skipped is an image that could not be pinned in its source, and why.
type Skipped struct {
	Image  string `json:"image"`
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// Plan lists the source edits that pin images to digests.
type Plan struct {
	Edits   []Edit    `json:"edits"`
	Skipped []Skipped `json:"skipped,omitempty"`
}

// NewPlan finds, for every image of the rendered apps that pin maps to a
// pinned value, where that value is written in the repository and how to
// change it there: the image field of a plain manifest or of a Kustomize
// resource file, or the `images:` entry of the app's kustomization that set
// it (a digest: key). Values computed by Helm are reported as skipped.
func NewPlan(ctx context.Context, r Tree, rendered []Rendered, pin func(extract.ImageRef) (string, bool)) (*Plan, error) {
	plan := &Plan{}
	seen := map[string]bool{}
	files := map[string][]model.Resource{}
	objects := func(rel string) []model.Resource {
		if res, ok := files[rel]; ok {
			return res
		}
		var res []model.Resource
		if abs, err := r.Abs(rel); err == nil {
			res, _ = r.ReadManifests(abs)
		}
		files[rel] = res
		return res
	}
	for _, rd := range rendered {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		refs := rd.Images()
		for _, ref := range refs {
			if ref.Error != "" {
				continue
			}
			pinned, ok := pin(ref)
			if !ok || pinned == ref.Image {
				continue
			}
			if len(rd.App.Kustomize.Images) > 0 {
				if e, ok, err := planOverride(r, rd.App, ref, pinned); ok {
					if err != nil {
						plan.Skipped = append(plan.Skipped, Skipped{Image: ref.Image, File: rd.App.DefinedIn, Reason: err.Error()})
					} else if key := e.File + fmt.Sprint(e.Line, e.Column); !seen[key] {
						seen[key] = true
						plan.Edits = append(plan.Edits, e)
					}
					continue
				}
			}
			if rd.App.Kind == model.KindHelm {
				e, err := planHelmValues(r, rd.App, ref, pinned)
				if err != nil {
					plan.Skipped = append(plan.Skipped, Skipped{Image: ref.Image, File: ref.File, Reason: err.Error()})
				} else if key := e.File + fmt.Sprint(e.Line, e.Column); !seen[key] {
					seen[key] = true
					plan.Edits = append(plan.Edits, e)
				}
				continue
			}
			// Where is the value written? In the located file, at the field.
			var node *yaml.Node
			for _, cand := range objects(ref.File) {
				if cand.Kind != ref.Resource.Kind || !strings.Contains(ref.Resource.Name, cand.Name) {
					continue
				}
				if n := extract.LookupField(cand.Node, ref.FieldPath); n != nil && n.Line == ref.Line {
					node = n
					break
				}
			}
			key := fmt.Sprintf("%s:%d:%s", ref.File, ref.Line, pinned)
			switch {
			case seen[key]:
			case node != nil && node.Value == ref.Image:
				seen[key] = true
				plan.Edits = append(plan.Edits, Edit{File: ref.File, Line: node.Line, Column: node.Column, Old: node.Value, New: pinned, Image: ref.Image})
			case node == nil && (strings.HasSuffix(ref.File, "kustomization.yaml") || strings.HasSuffix(ref.File, "kustomization.yml")):
				e, err := planImagesEntry(r, ref, pinned)
				if err != nil {
					plan.Skipped = append(plan.Skipped, Skipped{Image: ref.Image, File: ref.File, Reason: err.Error()})
					continue
				}
				seen[key] = true
				plan.Edits = append(plan.Edits, e)
			default:
				plan.Skipped = append(plan.Skipped, Skipped{Image: ref.Image, File: ref.File, Reason: "the rendered value is not written as such in the file"})
			}
		}
	}
	return plan, nil
}

// planOverride pins an image set by an Argo CD Application's
// kustomize.images entry, in the Application's file: "name=repo:tag"
// becomes "name=repo:tag@sha256:..." (the syntax of kustomize edit set
// image, which Argo CD runs). ok is false when no override set the image.
func planOverride(r Tree, app model.App, ref extract.ImageRef, pinned string) (Edit, bool, error) {
	_, digest, _ := strings.Cut(pinned, "@")
	overrides, err := argocd.ParseImageOverrides(app.Kustomize.Images)
	if err != nil {
		return Edit{}, false, nil
	}
	idx := -1
	for i, o := range overrides {
		name := o.NewName
		if name == "" {
			name = o.Name
		}
		if name == extract.ImageName(ref.Image) {
			idx = i
		}
	}
	if idx < 0 {
		return Edit{}, false, nil
	}
	file, _, _ := strings.Cut(app.DefinedIn, ":")
	abs, err := r.Abs(file)
	if err != nil {
		return Edit{}, true, err
	}
	objs, _ := r.ReadManifests(abs)
	for _, o := range objs {
		if o.Kind != "Application" || !strings.HasSuffix(app.Name, o.Name) && !strings.HasPrefix(app.Name, o.Name) {
			continue
		}
		spec := model.MapGet(o.Node, "spec")
		var lists []*yaml.Node
		if src := model.MapGet(spec, "source"); src != nil {
			lists = append(lists, model.MapGet(model.MapGet(src, "kustomize"), "images"))
		}
		if srcs := model.MapGet(spec, "sources"); srcs != nil && srcs.Kind == yaml.SequenceNode {
			for _, s := range srcs.Content {
				lists = append(lists, model.MapGet(model.MapGet(s, "kustomize"), "images"))
			}
		}
		for _, l := range lists {
			if l == nil || l.Kind != yaml.SequenceNode {
				continue
			}
			for _, e := range l.Content {
				if e.Value != app.Kustomize.Images[idx] {
					continue
				}
				nv := e.Value
				if i := strings.IndexByte(nv, '@'); i >= 0 {
					nv = nv[:i]
				}
				return Edit{File: file, Line: e.Line, Column: e.Column, Old: e.Value, New: nv + "@" + digest, Image: ref.Image}, true, nil
			}
		}
	}
	return Edit{}, true, fmt.Errorf("the kustomize.images entry %q of Application %s is not written literally in %s (rendered by a template?)", app.Kustomize.Images[idx], app.Name, file)
}

// planHelmValues pins an image a chart builds from values of the form
// image: {repository, tag}: it sets image.digest when the values have that
// key, else writes the tag as tag@sha256:... (which a repository:tag
// template renders as a pinned reference). The last values file that sets
// the image wins, as in Helm.
func planHelmValues(r Tree, app model.App, ref extract.ImageRef, pinned string) (Edit, error) {
	_, digest, _ := strings.Cut(pinned, "@")
	for _, p := range app.Helm.Parameters {
		if strings.HasSuffix(p.Name, "tag") || strings.HasSuffix(p.Name, "image") {
			return Edit{}, fmt.Errorf("the image is set by the parameter %s: pin it there", p.Name)
		}
	}
	files := []string{path.Join(app.Path, "values.yaml")}
	for _, vf := range app.Helm.ValueFiles {
		if strings.HasPrefix(vf, "/") {
			files = append(files, strings.TrimPrefix(vf, "/"))
		} else {
			files = append(files, path.Join(app.Path, vf))
		}
	}
	name := extract.ImageName(ref.Image)
	tag := ""
	if rest := strings.TrimPrefix(ref.Image, name); strings.HasPrefix(rest, ":") {
		tag = rest[1:]
	}
	for i := len(files) - 1; i >= 0; i-- {
		abs, err := r.Abs(files[i])
		if err != nil {
			continue
		}
		data, err := r.ReadFile(abs)
		if err != nil {
			continue
		}
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
			continue
		}
		var found *yaml.Node
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if found != nil || n == nil {
				return
			}
			if n.Kind == yaml.MappingNode {
				if repo, ok := model.ScalarString(model.MapGet(n, "repository")); ok && (repo == name || strings.HasSuffix(name, "/"+repo)) && model.MapGet(n, "tag") != nil {
					found = n
					return
				}
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(doc.Content[0])
		if found == nil {
			continue
		}
		if d := model.MapGet(found, "digest"); d != nil {
			return Edit{File: files[i], Line: d.Line, Column: d.Column, Old: d.Value, New: digest, Image: ref.Image}, nil
		}
		t := model.MapGet(found, "tag")
		if t.Value != tag {
			return Edit{}, fmt.Errorf("the tag %q is not written in %s (it is %q there; a chart default such as appVersion?): set it there with @%s", tag, files[i], t.Value, digest)
		}
		return Edit{File: files[i], Line: t.Line, Column: t.Column, Old: t.Value, New: t.Value + "@" + digest, Image: ref.Image}, nil
	}
	return Edit{}, fmt.Errorf("no image: {repository: %s, tag: ...} in the chart's values: set the chart's digest value by hand", name)
}

// planImagesEntry pins through a kustomization's images: entry: it sets
// (or replaces) the entry's digest, which kustomize combines with newTag
// into name:tag@digest.
func planImagesEntry(r Tree, ref extract.ImageRef, pinned string) (Edit, error) {
	_, digest, ok := strings.Cut(pinned, "@")
	if !ok {
		return Edit{}, fmt.Errorf("no digest in %s", pinned)
	}
	abs, err := r.Abs(ref.File)
	if err != nil {
		return Edit{}, err
	}
	data, err := r.ReadFile(abs)
	if err != nil {
		return Edit{}, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return Edit{}, fmt.Errorf("reading %s: %v", ref.File, err)
	}
	imgs := model.MapGet(doc.Content[0], "images")
	if imgs == nil || imgs.Kind != yaml.SequenceNode {
		return Edit{}, fmt.Errorf("%s has no images: entry for %s", ref.File, ref.Image)
	}
	for _, e := range imgs.Content {
		if e.Line != ref.Line {
			continue
		}
		if d := model.MapGet(e, "digest"); d != nil {
			return Edit{File: ref.File, Line: d.Line, Column: d.Column, Old: d.Value, New: digest, Image: ref.Image}, nil
		}
		if e.Style&yaml.FlowStyle != 0 {
			return Edit{}, fmt.Errorf("%s:%d: a flow-style images entry; add digest: %s by hand", ref.File, e.Line, digest)
		}
		last := e.Content[len(e.Content)-1]
		key := e.Content[0]
		return Edit{File: ref.File, Line: last.Line, Column: key.Column, New: "digest: " + digest, Insert: true, Image: ref.Image}, nil
	}
	return Edit{}, fmt.Errorf("%s:%d: no images: entry there", ref.File, ref.Line)
}

// Apply computes the new content of every file the plan edits, byte for
// byte the same outside the changed values: comments, order, quoting,
// indentation, document separators and line endings are kept.
func Apply(r Tree, plan *Plan) (map[string][]byte, error) {
	byFile := map[string][]Edit{}
	for _, e := range plan.Edits {
		byFile[e.File] = append(byFile[e.File], e)
	}
	out := map[string][]byte{}
	for file, edits := range byFile {
		abs, err := r.Abs(file)
		if err != nil {
			return nil, err
		}
		data, err := r.ReadFile(abs)
		if err != nil {
			return nil, err
		}
		content := append([]byte(nil), data...)
		// From the end, so earlier positions stay valid.
		sort.Slice(edits, func(i, j int) bool {
			if edits[i].Line != edits[j].Line {
				return edits[i].Line > edits[j].Line
			}
			return edits[i].Column > edits[j].Column
		})
		for _, e := range edits {
			if content, err = applyEdit(content, e); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", file, e.Line, err)
			}
		}
		out[file] = content
	}
	return out, nil
}

// lineBounds returns the byte offsets of line n (1-based), without its
// line ending, and the line ending itself.
func lineBounds(content []byte, n int) (start, end int, eol string, err error) {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(content[start:], '\n')
		if j < 0 {
			return 0, 0, "", fmt.Errorf("no line %d", n)
		}
		start += j + 1
	}
	end = len(content)
	if j := bytes.IndexByte(content[start:], '\n'); j >= 0 {
		end, eol = start+j, "\n"
	}
	if end > start && content[end-1] == '\r' {
		end--
		eol = "\r" + eol
	}
	return start, end, eol, nil
}

func applyEdit(content []byte, e Edit) ([]byte, error) {
	start, end, eol, err := lineBounds(content, e.Line)
	if err != nil {
		return nil, err
	}
	line := content[start:end]
	if e.Insert {
		indent := strings.Repeat(" ", e.Column-1)
		if eol == "" { // the last line, without an ending
			return append(content[:end:end], []byte("\n"+indent+e.New)...), nil
		}
		pos := end + len(eol)
		add := []byte(indent + e.New + eol)
		return append(content[:pos:pos], append(add, content[pos:]...)...), nil
	}
	// yaml.v3 columns count characters; find the byte offset.
	off := 0
	for c := 1; c < e.Column && off < len(line); c++ {
		_, size := utf8.DecodeRune(line[off:])
		off += size
	}
	rest := line[off:]
	// Keep an anchor or tag written before the value (&img nginx:1.25).
	for len(rest) > 0 && (rest[0] == '&' || rest[0] == '!') {
		sp := bytes.IndexAny(rest, " \t")
		if sp < 0 {
			break
		}
		for sp < len(rest) && (rest[sp] == ' ' || rest[sp] == '\t') {
			sp++
		}
		off += sp
		rest = rest[sp:]
	}
	var tokenLen int
	var replacement string
	switch {
	case bytes.HasPrefix(rest, []byte(`"`)):
		i := 1
		for i < len(rest) && rest[i] != '"' {
			if rest[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(rest) {
			return nil, fmt.Errorf("unterminated double-quoted value")
		}
		tokenLen, replacement = i+1, `"`+strings.ReplaceAll(e.New, `"`, `\"`)+`"`
	case bytes.HasPrefix(rest, []byte(`'`)):
		i := 1
		for i < len(rest) {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i += 2
					continue
				}
				break
			}
			i++
		}
		if i >= len(rest) {
			return nil, fmt.Errorf("unterminated single-quoted value")
		}
		tokenLen, replacement = i+1, `'`+strings.ReplaceAll(e.New, `'`, `''`)+`'`
	default:
		if !bytes.HasPrefix(rest, []byte(e.Old)) {
			return nil, fmt.Errorf("expected %q at column %d, found %q", e.Old, e.Column, rest)
		}
		tokenLen, replacement = len(e.Old), e.New
	}
	pos := start + off
	return append(content[:pos:pos], append([]byte(replacement), content[pos+tokenLen:]...)...), nil
}

// WriteFiles writes edited files back in place, keeping their modes.
//
// A write-back must never leave the repository, whatever the checkout holds:
// a target that is a symlink (even to a file inside the repository, which a
// later checkout can point elsewhere), a directory or anything but a regular
// file is refused, as is a target whose parent directories resolve outside
// the repository. The new content goes to a fresh temporary file created
// with O_EXCL (os.CreateTemp) in the target's own directory, so a symlink
// planted at a predictable temporary name is never followed, and replaces
// the target with one atomic rename, which replaces a directory entry and
// never writes through one.
func WriteFiles(r Tree, files map[string][]byte) error {
	rels := make([]string, 0, len(files))
	for rel := range files {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		if err := writeFile(r, rel, files[rel]); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(r Tree, rel string, content []byte) error {
	abs, err := r.Abs(rel)
	if err != nil {
		return err
	}
	// The parent directory, symlinks resolved, must stay in the repository;
	// the target itself is looked at without following it.
	dir, err := r.Confine(filepath.Dir(abs))
	if err != nil {
		return err
	}
	target := filepath.Join(dir, filepath.Base(abs))
	st, err := os.Lstat(target)
	if err != nil {
		return &model.FileError{File: rel, Err: err}
	}
	switch {
	case st.Mode()&os.ModeSymlink != 0:
		return &model.FileError{File: rel, Err: errors.New("is a symlink: refusing to write through it")}
	case st.IsDir():
		return &model.FileError{File: rel, Err: errors.New("is a directory")}
	case !st.Mode().IsRegular():
		return &model.FileError{File: rel, Err: fmt.Errorf("is not a regular file (%s)", st.Mode().Type())}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".gitops-gate-*")
	if err != nil {
		return &model.FileError{File: rel, Err: err}
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(content); err != nil {
		return &model.FileError{File: rel, Err: err}
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return &model.FileError{File: rel, Err: err}
	}
	if err := tmp.Sync(); err != nil {
		return &model.FileError{File: rel, Err: err}
	}
	if err := tmp.Close(); err != nil {
		return &model.FileError{File: rel, Err: err}
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return &model.FileError{File: rel, Err: err}
	}
	done = true
	return nil
}
