package gate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate/imageref"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// PinnedValue is what a verified image becomes in pinned manifests: the
// digest that was verified (never resolved again), written as Kyverno's
// mutateDigest would (registry/path:tag@digest) when the rule asks for it,
// else registry/path@digest. An image that already carries a digest, or
// that did not pass, is left as written.
func PinnedValue(v ImageVerdict) (string, bool) {
	if v.Status != StatusPass || v.Digest == "" || strings.Contains(v.Image, "@") {
		return "", false
	}
	info, err := imageref.Parse(v.Image)
	if err != nil {
		return "", false
	}
	if v.MutateDigest {
		return info.PinnedWithTag(v.Digest), true
	}
	info.Tag = ""
	return info.PinnedWithTag(v.Digest), true
}

// PinOptions select what CheckAndPin renders.
type PinOptions struct {
	Manifests manifests.Options
	App       string
	// Adjust changes an app's settings before it renders (see
	// manifests.ScanOptions).
	Adjust func(*manifests.App) error
}

// CheckAndPin renders the repository in dir, verifies every image, and, only
// when the result is a pass, returns the rendered manifests with each
// verified image pinned to the digest that was verified. On anything else
// the stream is nil and the report says why.
func (e *Engine) CheckAndPin(ctx context.Context, dir string, o PinOptions) ([]byte, *Report, error) {
	_, inv, rendered, err := e.scan(ctx, dir, o.Manifests, manifests.ScanOptions{App: o.App, Adjust: o.Adjust})
	if err != nil {
		return nil, nil, err
	}
	o.Manifests.Extractors = o.Manifests.Extractors.Merge(e.Extractors())
	e.addExtracted(ctx, inv, rendered)
	rep := e.evaluator.EvaluateObjects(ctx, inv, renderedObjects(rendered))
	if rep.Result != StatusPass {
		return nil, rep, nil
	}
	verdicts := map[string]ImageVerdict{}
	for _, a := range rep.Apps {
		for _, v := range a.Images {
			verdicts[a.Name+"\x00"+v.Resource.String()+"\x00"+v.FieldPath] = v
		}
	}
	var out bytes.Buffer
	for _, rd := range rendered {
		rd.Pin(o.Manifests.Extractors, func(ref manifests.ImageRef) (string, bool) {
			v, ok := verdicts[ref.App+"\x00"+ref.Resource.String()+"\x00"+ref.FieldPath]
			if !ok || v.Image != ref.Image {
				return "", false
			}
			return PinnedValue(v)
		})
		stream, err := rd.Stream()
		if err != nil {
			return nil, rep, err
		}
		if len(stream) > 0 {
			if out.Len() > 0 {
				out.WriteString("---\n")
			}
			out.Write(stream)
		}
	}
	return out.Bytes(), rep, nil
}

// PlanSourcePins verifies the repository in dir and plans the source edits
// that pin every verified image to the digest that was verified. Images
// that did not pass are not pinned; the report says why.
func (e *Engine) PlanSourcePins(ctx context.Context, dir string, o PinOptions) (*manifests.Repo, *manifests.PinPlan, *Report, error) {
	repo, inv, rendered, err := e.scan(ctx, dir, o.Manifests, manifests.ScanOptions{App: o.App, Adjust: o.Adjust})
	if err != nil {
		return nil, nil, nil, err
	}
	o.Manifests.Extractors = o.Manifests.Extractors.Merge(e.Extractors())
	e.addExtracted(ctx, inv, rendered)
	rep := e.evaluator.EvaluateObjects(ctx, inv, renderedObjects(rendered))
	verdicts := map[string]ImageVerdict{}
	for _, a := range rep.Apps {
		for _, v := range a.Images {
			verdicts[a.Name+"\x00"+v.Resource.String()+"\x00"+v.FieldPath] = v
		}
	}
	plan, err := repo.PlanPins(ctx, rendered, o.Manifests.Extractors, func(ref manifests.ImageRef) (string, bool) {
		v, ok := verdicts[ref.App+"\x00"+ref.Resource.String()+"\x00"+ref.FieldPath]
		if !ok || v.Image != ref.Image {
			return "", false
		}
		return PinnedValue(v)
	})
	return repo, plan, rep, err
}

// PinProposal is the change that would pin a commit's verified images in
// its source files: what `gitops-gate pin --dry-run` prints.
type PinProposal struct {
	// Edits counts the image values changed, in Files.
	Edits int      `json:"edits"`
	Files []string `json:"files"`
	// Diff is a unified diff of the files, in order.
	Diff    string              `json:"diff"`
	Skipped []manifests.Skipped `json:"skipped,omitempty"`
}

// ProposePins applies plan in memory and describes the result; it
// changes nothing on disk.
func ProposePins(repo *manifests.Repo, plan *manifests.PinPlan) (*PinProposal, error) {
	files, err := repo.Apply(plan)
	if err != nil {
		return nil, err
	}
	p := &PinProposal{Edits: len(plan.Edits), Skipped: plan.Skipped}
	for f := range files {
		p.Files = append(p.Files, f)
	}
	sort.Strings(p.Files)
	var diff strings.Builder
	for _, f := range p.Files {
		old, err := os.ReadFile(filepath.Join(repo.Root(), filepath.FromSlash(f)))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		diff.WriteString(manifests.UnifiedDiff(f, old, files[f]))
	}
	p.Diff = diff.String()
	return p, nil
}
