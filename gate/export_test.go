package gate

import (
	"context"

	"github.com/gitops-gate/gitops-gate/manifests"
)

// CheckAllAtOnce is Check as it was before images were judged while the
// scan still renders (920dfbb): the whole inventory first, the policies'
// extractors over every rendering, then every image against an index of
// every app's objects. Tests hold the streamed Check to it.
func (e *Engine) CheckAllAtOnce(ctx context.Context, dir string, o CheckOptions) (*Report, error) {
	_, inv, rendered, err := e.scan(ctx, dir, o.Manifests, manifests.ScanOptions{App: o.App, Adjust: o.Adjust})
	if err != nil {
		return nil, err
	}
	e.addExtracted(ctx, inv, rendered)
	return e.evaluator.EvaluateObjects(ctx, inv, renderedObjects(rendered)), nil
}

// Prefetch resolves images ahead as an incremental evaluation does; wait
// returns once everything it started has finished.
func (e *Evaluator) Prefetch(ctx context.Context, images []string) (wait func()) {
	s := e.stream(ctx, nil)
	s.prefetch(images)
	return s.wait
}
