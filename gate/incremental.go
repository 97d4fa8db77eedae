package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/gitops-gate/gitops-gate/gate/incremental"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// Incremental is what an incremental check starts from.
type Incremental struct {
	// Base is the base evaluation's record (nil: render everything), and
	// BaseName and BaseCommit name it in the report.
	Base       *incremental.Record
	BaseName   string
	BaseCommit string
	// Full renders every app whatever the base (--full).
	Full bool

	// warm is the evaluation Warm began.
	warm *pending
}

// Warm begins an incremental evaluation before its checkout is ready: the
// base's images (those a rule verifies) are resolved while the commit is
// fetched. The CheckIncremental given this inc, on this engine, continues
// it; Close releases it when no check follows. The results are that one
// evaluation's own.
func (e *Engine) Warm(ctx context.Context, inc *Incremental) {
	if inc.Full || inc.Base == nil || inc.warm != nil {
		return
	}
	p := e.begin(ctx)
	p.st.prefetch(incremental.LikelyImages(inc.Base))
	inc.warm = p
}

// Close releases what Warm began, unless a check used it.
func (inc *Incremental) Close() {
	if p := inc.warm; p != nil && p.claimed.CompareAndSwap(false, true) {
		p.release()
	}
}

// claim hands what Warm began to a check on e, once; nil when there is
// nothing to continue.
func (inc *Incremental) claim(e *Engine) *pending {
	if p := inc.warm; p != nil && p.eng == e && p.claimed.CompareAndSwap(false, true) {
		return p
	}
	return nil
}

// CheckIncremental is Check that renders only the apps whose inputs changed
// since inc.Base and carries the others over, and returns, with the report,
// the record the next evaluation starts from. The report is as complete as
// Check's: every app and every image, each image judged again.
func (e *Engine) CheckIncremental(ctx context.Context, dir string, o CheckOptions, inc Incremental) (*Report, *incremental.Record, error) {
	fp := e.Fingerprint(o.Manifests)
	// Rules that read the rendered objects judge a carried-over app on the
	// objects its record kept.
	po := incremental.Options{Base: inc.Base, Fingerprint: fp, Full: inc.Full, NeedObjects: e.readsObjects() != ""}
	plan := incremental.NewPlanner(po)
	repo, err := e.open(dir, o.Manifests)
	if err != nil {
		return nil, nil, err
	}
	so := manifests.ScanOptions{App: o.App, Adjust: o.Adjust, Reuse: func(app manifests.App) (manifests.AppImages, bool) {
		return plan.Reuse(app, repo)
	}}
	p := inc.claim(e)
	if p == nil {
		p = e.begin(ctx)
		p.st.prefetch(plan.LikelyImages())
	}
	rep, inv, objects, err := e.scanAndJudge(ctx, dir, repo, so, p, plan.Objects)
	if err != nil {
		return nil, nil, err
	}
	nRendered, carried := plan.Counts()
	rep.Rendering = &Rendering{Mode: RenderFull, Rendered: nRendered, CarriedOver: carried, Reason: plan.FullReason()}
	if carried > 0 || plan.FullReason() == "" {
		rep.Rendering.Mode, rep.Rendering.Base, rep.Rendering.BaseCommit = RenderIncremental, inc.BaseName, inc.BaseCommit
	}
	return rep, incremental.NewRecord(fp, inv, objects), nil
}

// readsObjects names a rule that reads the rendered objects (an
// ImageValidatingPolicy's matchConstraints and matchConditions, its CEL
// validations and images[] extractors): objects are then indexed for the
// judge, and recorded so that a carried-over app is judged on the objects
// it rendered. "" when no rule reads them.
func (e *Engine) readsObjects() string {
	for _, r := range e.Policies.Rules() {
		if r.Constraints != nil {
			return fmt.Sprintf("rule %s matches on the rendered objects, which are not carried over", r.ID())
		}
		for _, vf := range r.Verify {
			if vf.Program != nil {
				return fmt.Sprintf("rule %s reads the rendered objects (CEL), which are not carried over", r.ID())
			}
		}
	}
	return ""
}

// Fingerprint is what, besides the repository, decides what rendering the
// repository with mo produces under this engine: the gate's build, the
// policies, and the rendering settings (with the policies' extractors).
func (e *Engine) Fingerprint(mo manifests.Options) incremental.Fingerprint {
	mo.Extractors = mo.Extractors.Merge(e.Extractors())
	return incremental.Fingerprint{
		Gate:      incremental.GateVersion(),
		Policies:  e.policyDigest,
		Rendering: incremental.Digest(mo.Settings()),
	}
}

// policyDigest hashes everything the engine judges with: the policy files'
// contents (every file under a policy directory, policies or not), the
// native identities and keys, bundles, trust material and switches.
func policyDigest(cfg Config, trustID string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%q\n", incremental.Digest(struct {
		Identities, Ignore             []string
		RequireMatch, Strict, Tlog, SC bool
		MaxSignatures                  int
		Trust, Kyverno                 string
		NamespaceLabels                any
	}{cfg.Identities, cfg.PolicyIgnore, cfg.RequireMatch, cfg.StrictUnknownImages, cfg.InsecureIgnoreTlog, cfg.InsecureIgnoreSCT,
		cfg.MaxSignatures, trustID, cfg.KyvernoVersion, cfg.NamespaceLabels}))
	var files []string
	for _, p := range cfg.PolicyPaths {
		err := filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				files = append(files, f)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	sort.Strings(files)
	files = append(files, cfg.KeyFiles...)
	files = append(files, cfg.BundleFiles...)
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%q\n", f)
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
