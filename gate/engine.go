package gate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate/cache"
	"github.com/gitops-gate/gitops-gate/gate/incremental"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	_ "github.com/gitops-gate/gitops-gate/gate/policy/ivpol" // the ImageValidatingPolicy front-end
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/trust"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// Config is everything the engine needs, from the gate's own configuration:
// never from the repository under review.
type Config struct {
	// PolicyPaths are Kyverno policy files or directories.
	PolicyPaths []string
	// PolicyIgnore are glob patterns of files in policy directories that
	// are not policies (policy.LoadOptions.Ignore).
	PolicyIgnore []string
	// Identities ("ISSUER=SUBJECT_REGEXP") and KeyFiles are the CLI's
	// native exact-match policy; any of them may sign.
	Identities []string
	KeyFiles   []string
	Trust      trust.Source
	Registry   registry.Options
	// Cache keeps verification outcomes across evaluations (optional).
	Cache        cache.Cache[verify.Outcome]
	RequireMatch bool
	// StrictUnknownImages fails image fields of kinds the gate has no
	// extractor for, instead of warning (see Options).
	StrictUnknownImages bool
	// MaxSignatures bounds the signatures and referrers examined per digest
	// (default verify.DefaultMaxSignatures); more is an error verdict.
	MaxSignatures int
	// InsecureIgnoreTlog and InsecureIgnoreSCT are cosign's
	// --insecure-ignore-tlog/--insecure-ignore-sct for the native form
	// (Identities, KeyFiles); a policy says it with rekor.ignoreTlog and
	// ctlog.ignoreSCT.
	InsecureIgnoreTlog, InsecureIgnoreSCT bool
	// NamespaceLabels are the labels of the cluster's namespaces, for the
	// namespaceSelector of ImageValidatingPolicies (cluster.namespaceLabels).
	NamespaceLabels map[string]map[string]string
	// KyvernoVersion is the cluster's Kyverno version (cluster.kyvernoVersion,
	// --kyverno-version); below 1.19 verdicts warn where it decides otherwise.
	KyvernoVersion string
	// BundleFiles are Sigstore bundle files (check --bundle, as cosign
	// verify --bundle), offered to every image.
	BundleFiles []string
	// GitHubAttestations, when set, is also asked for each digest's
	// attestations (attestations: github; gate/github.Attestations).
	GitHubAttestations verify.AttestationSource
	// GitHubTrustedRoot is the file `gh attestation trusted-root` writes
	// (JSON lines of trusted_root.json): the trust material of GitHub's
	// own Sigstore instance, which signs private repositories'
	// attestations.
	GitHubTrustedRoot string
	// GitHubRule adds gh attestation verify's rule to the native form
	// (--signer-repo, --signer-workflow, --source-ref,
	// --deny-self-hosted-runners).
	GitHubRule *policy.GitHubRule
}

// Engine is a configured gate: policies, trust, registry access. It is safe
// for concurrent use and meant to be built once.
type Engine struct {
	Policies  *policy.Set
	Trust     *root.TrustedRoot // nil when TrustErr says why
	TrustErr  error
	Resolver  *registry.Resolver
	evaluator *Evaluator
	// policyDigest is the Fingerprint's Policies part.
	policyDigest string
}

// ErrNoPolicy is returned when the configuration names no policy at all.
var ErrNoPolicy = errors.New("no policy: give Kyverno policies (--policy) or identities (--identity, --key)")

// NewEngine loads policies and trust. Invalid policies are an error; missing
// or unreadable trust material is not: every image that needs it then ends
// in an error verdict that says so.
func NewEngine(cfg Config) (*Engine, error) {
	var sets []*policy.Set
	if len(cfg.PolicyPaths) > 0 {
		s, err := policy.LoadWith(policy.LoadOptions{Ignore: cfg.PolicyIgnore, NamespaceLabels: cfg.NamespaceLabels, KyvernoVersion: cfg.KyvernoVersion}, cfg.PolicyPaths...)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s)
	}
	if len(cfg.Identities) > 0 || len(cfg.KeyFiles) > 0 || cfg.GitHubRule != nil {
		s, err := policy.NativeWith(cfg.Identities, cfg.KeyFiles, policy.NativeOptions{IgnoreTlog: cfg.InsecureIgnoreTlog, IgnoreSCT: cfg.InsecureIgnoreSCT, GitHub: cfg.GitHubRule})
		if err != nil {
			return nil, err
		}
		sets = append(sets, s)
	}
	if len(sets) == 0 {
		return nil, ErrNoPolicy
	}
	if cfg.GitHubRule != nil && cfg.GitHubAttestations == nil {
		// The rule would then only read attestations pushed to the
		// registry; say where GitHub keeps them instead of failing every
		// image with "not found".
		return nil, errors.New("--signer-repo/--signer-workflow check GitHub artifact attestations: also read them from GitHub (--attestations github, or attestations: github)")
	}
	if (cfg.InsecureIgnoreTlog || cfg.InsecureIgnoreSCT) && len(cfg.Identities) == 0 && len(cfg.KeyFiles) == 0 {
		return nil, errors.New("--insecure-ignore-tlog and --insecure-ignore-sct apply to --identity and --key; a policy says it with rekor.ignoreTlog and ctlog.ignoreSCT")
	}
	e := &Engine{Policies: policy.Merge(sets...)}
	e.Trust, e.TrustErr = trust.Load(cfg.Trust)
	var err error
	if e.policyDigest, err = policyDigest(cfg, trust.ID(e.Trust)); err != nil {
		return nil, fmt.Errorf("hashing the policies: %w", err)
	}
	if e.Resolver, err = registry.New(cfg.Registry); err != nil {
		return nil, err
	}
	vo := verify.Options{Registry: e.Resolver, TrustErr: e.TrustErr, MaxSignatures: cfg.MaxSignatures, GitHub: cfg.GitHubAttestations}
	if cfg.GitHubTrustedRoot != "" {
		// A missing or broken file is a start-up error: the operator
		// asked for it, and without it every private attestation fails.
		if vo.GitHubRoots, err = trust.LoadJSONL(cfg.GitHubTrustedRoot); err != nil {
			return nil, err
		}
	}
	for _, f := range cfg.BundleFiles {
		b, err := sgbundle.LoadJSONFromPath(f)
		if err != nil {
			return nil, fmt.Errorf("--bundle %s: not a Sigstore bundle: %w", f, err)
		}
		vo.Bundles = append(vo.Bundles, b)
	}
	if e.Trust != nil {
		vo.Trusted = e.Trust
	}
	v, err := verify.New(vo)
	if err != nil {
		return nil, err
	}
	e.evaluator, err = New(Options{Policies: e.Policies, Verifier: v, Resolver: e.Resolver,
		Cache: cfg.Cache, TrustID: trust.ID(e.Trust), RequireMatch: cfg.RequireMatch,
		StrictUnknownImages: cfg.StrictUnknownImages, PositiveTTL: positiveTTL(e.Trust, time.Now())})
	return e, err
}

// positiveTTL keeps a verified outcome at most an hour, and never past the
// end of the trust material it was verified with.
func positiveTTL(tr *root.TrustedRoot, now time.Time) time.Duration {
	ttl := time.Hour
	if end := trust.ValidUntil(tr); !end.IsZero() {
		if d := end.Sub(now); d < ttl {
			ttl = max(d, time.Second)
		}
	}
	return ttl
}

// Extractors are the image extractors the policies ask for.
func (e *Engine) Extractors() manifests.Extractors { return e.Policies.Extractors }

// Evaluate judges an inventory.
func (e *Engine) Evaluate(ctx context.Context, inv *manifests.Inventory) *Report {
	return e.evaluator.Evaluate(ctx, inv)
}

// CheckOptions select what Check scans.
type CheckOptions struct {
	Manifests manifests.Options
	App       string
	// Adjust changes an app's settings before it renders (see
	// manifests.ScanOptions).
	Adjust func(*manifests.App) error
}

// Check renders the repository in dir and judges every image. The
// policies' image extractors are added to the repository's.
func (e *Engine) Check(ctx context.Context, dir string, o CheckOptions) (*Report, error) {
	repo, err := e.open(dir, o.Manifests)
	if err != nil {
		return nil, err
	}
	rep, _, _, err := e.scanAndJudge(ctx, dir, repo, manifests.ScanOptions{App: o.App, Adjust: o.Adjust}, e.begin(ctx), nil)
	return rep, err
}

// pending is an evaluation's judging, begun: its stream (and the object
// index its rules read), possibly already resolving references.
type pending struct {
	eng     *Engine
	st      *stream
	objects *objectIndex
	cancel  context.CancelFunc
	// claimed: a check continues it, or Close released it.
	claimed atomic.Bool
}

func (e *Engine) begin(ctx context.Context) *pending {
	ctx, cancel := context.WithCancel(ctx)
	p := &pending{eng: e, cancel: cancel}
	if e.readsObjects() != "" {
		p.objects = &objectIndex{}
		p.st = e.evaluator.stream(ctx, p.objects.lookup)
	} else {
		p.st = e.evaluator.stream(ctx, nil)
	}
	return p
}

// release stops what the evaluation still had under way and waits for it.
func (p *pending) release() {
	p.cancel()
	p.st.wait()
}

// scanAndJudge scans repo and judges each app's images as soon as the app
// is rendered or carried over, so that the registry's round trips for the
// first apps overlap the rendering of the rest. The renderings are not
// kept beyond what the rules read. When the rules read objects, it also
// returns each app's objects, for the record the next evaluation starts
// from (an app without them was carried over without them, and is absent).
//
// p is the evaluation, begun (and perhaps resolving already); carried, when
// set, gives a carried-over app's recorded objects.
func (e *Engine) scanAndJudge(ctx context.Context, dir string, repo *manifests.Repo, so manifests.ScanOptions, p *pending, carried func(app string) ([]incremental.Object, bool)) (*Report, *manifests.Inventory, map[string][]incremental.Object, error) {
	defer p.cancel()
	st, objects := p.st, p.objects
	var recorded map[string][]incremental.Object
	var mu sync.Mutex
	if objects != nil {
		recorded = map[string][]incremental.Object{}
	}
	xs := e.imageExtractors()
	so.Discard = true
	so.OnApp = func(i int, app *manifests.AppImages, rd *manifests.Rendered) {
		if rd != nil && len(xs) > 0 {
			addExtractedApp(ctx, xs, app, rd)
		}
		if objects != nil {
			var objs []incremental.Object
			ok := true
			if rd != nil {
				// Only the objects images are written in are read, and
				// as YAML text they weigh a fraction of their nodes,
				// which can then go.
				objs = recordObjects(app, rd)
			} else if carried != nil {
				objs, ok = carried(app.Name)
			}
			objects.addRecorded(app.Name, objs)
			if ok {
				mu.Lock()
				recorded[app.Name] = objs
				mu.Unlock()
			}
		}
		st.add(i, app)
	}
	inv, _, err := repo.Scan(ctx, so)
	switch {
	case err != nil:
		err = fmt.Errorf("scanning %s: %w", dir, err)
	case len(inv.Apps) == 0:
		err = noApps(dir)
	}
	if err != nil {
		// Nothing the evaluation started (a prefetch) outlives it.
		p.release()
		return nil, nil, nil, err
	}
	return st.finish(inv), inv, recorded, nil
}

// recordObjects are the objects of rd that app's images are written in,
// for the record: what a rule reading objects judges them on.
func recordObjects(app *manifests.AppImages, rd *manifests.Rendered) []incremental.Object {
	used := map[manifests.ResourceID]bool{}
	for _, ref := range app.Images {
		used[ref.Resource] = true
	}
	// One object per resource: the last of the same name, as the index of
	// rendered objects always kept and as the applier leaves it.
	last := map[manifests.ResourceID]int{}
	for i := range rd.Resources {
		if id := rd.Resources[i].ResourceID; used[id] && rd.Resources[i].Node != nil {
			last[id] = i
		}
	}
	objs := []incremental.Object{}
	for i := range rd.Resources {
		res := &rd.Resources[i]
		if j, ok := last[res.ResourceID]; !ok || j != i {
			continue
		}
		y, err := yaml.Marshal(res.Node)
		if err != nil {
			continue // judged with no object, as when it cannot be decoded
		}
		objs = append(objs, incremental.Object{Resource: res.ResourceID, YAML: string(y)})
	}
	return objs
}

// ErrNoApps marks a repository in which no app was found: nothing would be
// verified, and a gate pointed at the wrong directory must not say PASS.
var ErrNoApps = errors.New("no apps found")

// noApps is the error of a repository in which no app was found, naming dir.
func noApps(dir string) error {
	return fmt.Errorf("%s: %w: no Kubernetes manifests, kustomization, Helm chart or Argo CD Application (is this the repository's root?)", dir, ErrNoApps)
}

// open opens the repository in dir with the policies' image extractors
// added to mo's.
func (e *Engine) open(dir string, mo manifests.Options) (*manifests.Repo, error) {
	mo.Extractors = mo.Extractors.Merge(e.Extractors())
	return manifests.Open(dir, mo)
}

// scan opens and renders the repository in dir (open). A repository with no
// app is an error naming dir.
func (e *Engine) scan(ctx context.Context, dir string, mo manifests.Options, so manifests.ScanOptions) (*manifests.Repo, *manifests.Inventory, []*manifests.Rendered, error) {
	repo, err := e.open(dir, mo)
	if err != nil {
		return nil, nil, nil, err
	}
	inv, rendered, err := repo.Scan(ctx, so)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("scanning %s: %w", dir, err)
	}
	if len(inv.Apps) == 0 {
		return nil, nil, nil, noApps(dir)
	}
	return repo, inv, rendered, nil
}
