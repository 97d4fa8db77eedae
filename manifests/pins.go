package manifests

import (
	"context"

	"github.com/gitops-gate/gitops-gate/manifests/pin"
)

// Pinning lives in package pin; these keep its names on Repo.
type (
	PinPlan = pin.Plan
	Edit    = pin.Edit
	Skipped = pin.Skipped
)

// PlanPins finds where each image of the rendered apps that pin maps to a
// new value is written, and how to change it there (see pin.NewPlan).
func (r *Repo) PlanPins(ctx context.Context, rendered []*Rendered, ex Extractors, pinned func(ImageRef) (string, bool)) (*PinPlan, error) {
	apps := make([]pin.Rendered, len(rendered))
	for i, rd := range rendered {
		apps[i] = pin.Rendered{App: rd.App, Images: func() []ImageRef { return rd.Images(ex) }}
	}
	return pin.NewPlan(ctx, pinTree{r}, apps, pinned)
}

// Apply returns the new content of every file the plan edits (see
// pin.Apply); nothing is written.
func (r *Repo) Apply(plan *PinPlan) (map[string][]byte, error) { return pin.Apply(pinTree{r}, plan) }

// WriteFiles writes files back into the repository without following
// symlinks out of it (see pin.WriteFiles).
func (r *Repo) WriteFiles(files map[string][]byte) error { return pin.WriteFiles(pinTree{r}, files) }

// UnifiedDiff is a unified diff of a file's old and new content (see
// pin.UnifiedDiff).
func UnifiedDiff(name string, old, new []byte) string { return pin.UnifiedDiff(name, old, new) }

// pinTree gives package pin the Repo's confined file access without making
// it part of Repo's API.
type pinTree struct{ r *Repo }

func (t pinTree) Abs(rel string) (string, error)               { return t.r.abs(rel) }
func (t pinTree) Confine(abs string) (string, error)           { return t.r.confine(abs) }
func (t pinTree) ReadFile(abs string) ([]byte, error)          { return t.r.readFile(abs) }
func (t pinTree) ReadManifests(abs string) ([]Resource, error) { return t.r.readManifests(abs) }
