package render

import (
	"bytes"
	"fmt"

	"github.com/gitops-gate/gitops-gate/manifests/extract"
	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
	yaml "go.yaml.in/yaml/v3"
)

// Rendered is the output of one app: its objects and everything that went
// wrong. Resources may be non-empty even when Err is set (a plain app with one
// bad file still reports the others).
type Rendered struct {
	App       model.App
	Resources []model.Resource
	Err       error

	// Locate refines an image reference's file and line; nil means the
	// resource's node lines are lines of its file. Renderers that move
	// values away from their files (Kustomize) set it.
	Locate func(res *model.Resource, ref *extract.ImageRef)
	// Values are the repositories $ref/… value files are read from, by ref
	// name (Helm).
	Values map[string]tree.Tree
}

// Images extracts every image reference of the rendered app with its
// location, sorted by file and line.
func (rd *Rendered) Images(ex extract.Extractors) []extract.ImageRef {
	var refs []extract.ImageRef
	for i := range rd.Resources {
		res := &rd.Resources[i]
		for _, ref := range extract.ExtractImages(res, ex) {
			ref.App = rd.App.Name
			if rd.Locate != nil {
				rd.Locate(res, &ref)
			} else if res.ExactLines {
				ref.File = res.File
			} else {
				ref.File, ref.Line = res.File, res.Line
			}
			refs = append(refs, ref)
		}
	}
	extract.SortRefs(refs)
	return refs
}

// Pin rewrites image values in the rendered objects: pin receives each
// image reference (with the app's name) and returns the value to write, or
// false to leave it. It returns how many values it changed. The source
// files are not touched.
func (rd *Rendered) Pin(ex extract.Extractors, pin func(extract.ImageRef) (string, bool)) int {
	n := 0
	for i := range rd.Resources {
		res := &rd.Resources[i]
		for _, e := range extract.Fields(res, ex) {
			if e.Node == nil || e.Ref.Error != "" {
				continue
			}
			e.Ref.App = rd.App.Name
			if v, ok := pin(e.Ref); ok && v != e.Node.Value {
				// An alias would pin every use of the anchor; the value is
				// this field's own from now on.
				e.Node.Value, e.Node.Style, e.Node.Tag = v, 0, "!!str"
				n++
			}
		}
	}
	return n
}

// Stream writes the rendered objects as one multi-document YAML stream.
func (rd *Rendered) Stream() ([]byte, error) {
	var buf bytes.Buffer
	for i, res := range rd.Resources {
		if i > 0 {
			buf.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(res.Node); err != nil {
			return nil, fmt.Errorf("encoding %s from %s: %w", res.ResourceID, res.File, err)
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// Warnings returns the app's warnings (UnknownImages of every object),
// located like its images.
func (rd *Rendered) Warnings(ex extract.Extractors) []extract.Warning {
	var out []extract.Warning
	for i := range rd.Resources {
		res := &rd.Resources[i]
		for _, w := range extract.UnknownImages(res, ex) {
			w.App = rd.App.Name
			switch {
			case rd.Locate != nil:
				rd.Locate(res, &w.ImageRef)
			case res.ExactLines:
				w.File = res.File
			default:
				w.File, w.Line = res.File, res.Line
			}
			out = append(out, w)
		}
	}
	return out
}
