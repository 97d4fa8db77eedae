package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/gitops-gate/gitops-gate/gate/cache"
	"github.com/gitops-gate/gitops-gate/gate/imageref"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/policy/conditions"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// Options configure an Evaluator.
type Options struct {
	Policies *policy.Set
	Verifier *verify.Verifier
	Resolver *registry.Resolver
	// Cache keeps verification outcomes across evaluations (optional).
	Cache cache.Cache[verify.Outcome]
	// TrustID names the trust material, so that cached outcomes are never
	// reused under another trust root.
	TrustID string
	// PositiveTTL (default 1h) and NegativeTTL (default 30s) bound cached
	// outcomes.
	PositiveTTL, NegativeTTL time.Duration
	// RequireMatch fails images that no rule matches.
	RequireMatch bool
	// StrictUnknownImages fails the image fields the gate does not judge
	// (manifests.Warning) instead of only warning about them.
	StrictUnknownImages bool
	// Concurrency bounds images judged at once (default 64); the registry
	// transport bounds requests per registry on its own.
	Concurrency int
}

// Evaluator judges inventories. It is safe for concurrent use.
type Evaluator struct{ o Options }

// New checks the options and builds an Evaluator.
func New(o Options) (*Evaluator, error) {
	if o.Policies == nil || o.Verifier == nil || o.Resolver == nil {
		return nil, errors.New("gate: policies, verifier and resolver are required")
	}
	if o.PositiveTTL <= 0 {
		o.PositiveTTL = time.Hour
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = 30 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	return &Evaluator{o: o}, nil
}

// Evaluate judges every image of the inventory. It never returns nil; an
// app that could not be rendered is carried into the report as an error.
func (e *Evaluator) Evaluate(ctx context.Context, inv *manifests.Inventory) *Report {
	return e.EvaluateObjects(ctx, inv, nil)
}

// Objects finds the object an image occurrence is written in (nil when
// unknown), for rules whose expressions read it.
type Objects func(ref manifests.ImageRef) map[string]any

// EvaluateObjects is Evaluate with the objects of the inventory's images.
func (e *Evaluator) EvaluateObjects(ctx context.Context, inv *manifests.Inventory, objects Objects) *Report {
	s := e.stream(ctx, objects)
	for i := range inv.Apps {
		s.add(i, &inv.Apps[i])
	}
	return s.finish(inv)
}

// stream judges an inventory's images while its apps still arrive, so that
// resolving and verifying the first apps' images overlaps the rendering of
// the others: registry round trips wait while the CPU renders.
type stream struct {
	ctx     context.Context
	r       *run
	workers int // judging at once, at most
	wg      sync.WaitGroup

	mu       sync.Mutex
	seen     map[string]bool
	verdicts map[int][]ImageVerdict
	// repeats are occurrences of an image already being judged. They are
	// judged after every first occurrence: waiting on the shared result,
	// they would otherwise hold workers the distinct work needs.
	repeats []job
	// queue holds the occurrences waiting for a worker, in the order they
	// arrived; running counts the workers. A goroutine per waiting
	// occurrence would hold a stack each: tens of thousands at once for a
	// large pull request behind a slow registry.
	queue   []queued
	running int
}

type queued struct {
	vs []ImageVerdict
	jb job
}

type job struct {
	app, img int
	ref      manifests.ImageRef
}

func (e *Evaluator) stream(ctx context.Context, objects Objects) *stream {
	return &stream{ctx: ctx, r: &run{e: e, objects: objects}, workers: e.o.Concurrency,
		seen: map[string]bool{}, verdicts: map[int][]ImageVerdict{}}
}

// add starts judging the images of the inventory's app i, without
// waiting. The app's entry may change after add returns; its images are
// copied.
func (s *stream) add(i int, app *manifests.AppImages) {
	vs := make([]ImageVerdict, len(app.Images))
	var firsts []job
	s.mu.Lock()
	s.verdicts[i] = vs
	for j, ref := range app.Images {
		jb := job{i, j, ref}
		if s.seen[ref.Image] {
			s.repeats = append(s.repeats, jb)
		} else {
			s.seen[ref.Image] = true
			firsts = append(firsts, jb)
		}
	}
	s.mu.Unlock()
	for _, jb := range firsts {
		s.start(vs, jb)
	}
}

// start queues an occurrence for judging, without waiting: the caller is
// a renderer handing its app over. At most s.workers judge at once.
func (s *stream) start(vs []ImageVerdict, jb job) {
	s.wg.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, queued{vs, jb})
	if s.running < s.workers {
		s.running++
		go s.work()
	}
}

// work judges queued occurrences until none is left.
func (s *stream) work() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.running--
			s.mu.Unlock()
			return
		}
		q := s.queue[0]
		s.queue[0] = queued{}
		s.queue = s.queue[1:]
		s.mu.Unlock()
		q.vs[q.jb.img] = s.r.judge(s.ctx, q.jb.ref)
		s.wg.Done()
	}
}

// prefetch resolves, ahead of the scan, the references an evaluation
// will most likely judge (the base evaluation's images), so that the
// registry round trips overlap discovery instead of following it. Only a
// reference some rule's image patterns match is resolved: the gate asks no
// registry about an image it would not verify. The results are this
// evaluation's own (the same memo judge uses); a reference that is no
// longer in the repository costs one request and nothing else.
func (s *stream) prefetch(images []string) {
	if len(images) == 0 {
		return
	}
	// One goroutine walks the list and starts a resolution per free slot:
	// a base of thousands of images is not thousands of goroutines, and
	// the scan does not wait for the list to be matched.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		rules := s.r.e.o.Policies.Rules()
		// Its own bound: judges waiting on a prefetched result hold the
		// judging slots, and must not keep the prefetch from running.
		sem := make(chan struct{}, s.r.e.o.Concurrency)
		for _, img := range images {
			info, err := s.r.parse(img)
			if err != nil {
				continue
			}
			matched := false
			for _, rule := range rules {
				for _, vf := range rule.Verify {
					if m, skip, _, err := vf.MatchImage(img, info); err == nil && m && !skip {
						matched = true
					}
				}
			}
			if !matched {
				continue
			}
			gref, err := info.Reference()
			if err != nil {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-s.ctx.Done():
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() { <-sem }()
				s.r.resolves.do(gref.String(), func() (*registry.Resolved, error) { return s.r.e.o.Resolver.Resolve(s.ctx, gref) })
			}()
		}
	}()
}

// wait returns once every image added so far is judged.
func (s *stream) wait() { s.wg.Wait() }

// finish judges the repeats, waits, and reports on inv, whose every app
// was added.
func (s *stream) finish(inv *manifests.Inventory) *Report {
	s.wait()
	for _, jb := range s.repeats {
		s.start(s.verdicts[jb.app], jb)
	}
	s.wait()
	rep := &Report{APIVersion: APIVersion, Apps: make([]AppVerdict, len(inv.Apps))}
	for i, app := range inv.Apps {
		rep.Apps[i] = AppVerdict{Name: app.Name, Path: app.Path, Kind: app.Kind, GeneratedBy: app.GeneratedBy, Error: app.Error, Images: s.verdicts[i],
			Remote: app.Remote, Dependencies: app.Dependencies, ValueSources: app.ValueSources, CarriedOver: app.CarriedOver}
		if rep.Apps[i].Images == nil || len(rep.Apps[i].Images) != len(app.Images) {
			// Never a silent gap: an app whose images were not all handed
			// to the stream is an error, not a pass.
			rep.Apps[i].Images = make([]ImageVerdict, len(app.Images))
			for j, ref := range app.Images {
				rep.Apps[i].Images[j] = ImageVerdict{ImageRef: ref, Status: StatusError, Reason: "internal error: this image was not judged"}
			}
		}
		s.r.warnings(&rep.Apps[i], app.Warnings)
		sortVerdicts(rep.Apps[i].Images)
	}
	rep.finish()
	return rep
}

// ReasonUnmatched is the reason of an image that no rule matches: it was
// not verified, and passes only because matching is not required.
const ReasonUnmatched = "no rule matches this image, so it was not verified; --require-match (requireMatch) fails it"

// warnings carries an app's warnings into its verdict; with
// StrictUnknownImages each is a failed image instead.
func (r *run) warnings(a *AppVerdict, ws []manifests.Warning) {
	if !r.e.o.StrictUnknownImages {
		a.Warnings = ws
		return
	}
	for _, w := range ws {
		a.Images = append(a.Images, ImageVerdict{ImageRef: w.ImageRef, Status: StatusFail,
			Reason: w.Message + "; strictUnknownImages (--strict) fails it"})
	}
}

// sortVerdicts puts what needs attention first: failed and errored images,
// then the rest, each in file order.
func sortVerdicts(v []ImageVerdict) {
	rank := map[Status]int{StatusFail: 0, StatusError: 1, StatusAudit: 2}
	sort.SliceStable(v, func(i, j int) bool {
		ri, ok := rank[v[i].Status]
		if !ok {
			ri = 3
		}
		rj, ok := rank[v[j].Status]
		if !ok {
			rj = 3
		}
		return ri < rj
	})
}

// run is one evaluation: each unique reference is resolved once, each
// digest's signatures fetched once, each attestor checked once per digest.
type run struct {
	e         *Evaluator
	objects   Objects
	resolves  memo[*registry.Resolved]
	materials memo[*verify.Material]
	checks    memo[verify.Outcome]
	// attestations: fetched once per digest and repository, checked once
	// per attestation and attestor.
	attMaterials memo[*verify.AttMaterial]
	attChecks    memo[verify.AttOutcome]
	// infos: each reference is parsed once (a monorepo repeats its
	// images across thousands of apps).
	infos memo[imageref.Info]
}

func (r *run) parse(image string) (imageref.Info, error) {
	return r.infos.do(image, func() (imageref.Info, error) { return imageref.Parse(image) })
}

func (r *run) judge(ctx context.Context, ref manifests.ImageRef) ImageVerdict {
	v := ImageVerdict{ImageRef: ref}
	if ref.Error != "" {
		v.Status, v.Reason = StatusError, ref.Error
		return v
	}
	info, err := r.parse(ref.Image)
	if err != nil {
		v.Status, v.Reason = StatusError, err.Error()
		return v
	}
	v.Normalized = info.String()
	var applicable []applied
	skippedBy := ""
	kind, ns := ref.Resource.Kind, ref.Resource.Namespace
	target := policy.Resource{APIVersion: ref.Resource.APIVersion, Kind: kind, Namespace: ns, Name: ref.Resource.Name, Object: r.objectOf(ref)}
	var undecided []string // rules that cannot tell whether they apply
	undecidedIgnored := true
	for _, rule := range r.e.o.Policies.Rules() {
		// A rule judges the resource itself (its kinds, with Kyverno's
		// auto-generation), or, as a Pod rule, the Pods it creates: Kyverno
		// admits every Pod through the Pod rule, whoever creates it.
		direct, viaPods, err := rule.AppliesTo(ctx, target)
		if err != nil {
			undecided = append(undecided, fmt.Sprintf("rule %s cannot tell whether it applies: %v", rule.ID(), err))
			undecidedIgnored = undecidedIgnored && ignoresErrors(rule)
			continue
		}
		if !direct && !viaPods {
			continue
		}
		for _, vf := range rule.Verify {
			m, s, kyverno, err := vf.MatchImage(ref.Image, info)
			switch {
			case err != nil:
				undecided = append(undecided, fmt.Sprintf("rule %s cannot tell whether it applies to this image: %v", rule.ID(), err))
				undecidedIgnored = undecidedIgnored && vf.IgnoreErrors
			case m && s:
				skippedBy = rule.ID()
			case m:
				applicable = append(applicable, applied{vf: vf, viaPods: viaPods && !direct, podView: viaPods, kyverno: kyverno})
			}
		}
	}
	if len(undecided) > 0 {
		// Fail closed: a rule that cannot tell whether it applies might
		// have refused the image.
		v.Status, v.Reason = StatusError, strings.Join(undecided, "; ")
		if undecidedIgnored {
			v.Status, v.Reason = StatusAudit, "failurePolicy Ignore: "+v.Reason
		}
		if len(applicable) == 0 || v.Status == StatusError {
			return v
		}
	}
	if len(applicable) == 0 {
		switch {
		case skippedBy != "":
			v.Status, v.Rule, v.Reason = StatusSkipped, skippedBy, "skipped by skipImageReferences of "+skippedBy
		case r.e.o.RequireMatch:
			v.Status, v.Reason = StatusFail, "no policy rule matches this image, and every image must be covered (--require-match)"
		default:
			// It passes, unverified: say so on the image, not only in a count.
			v.Status, v.Reason = StatusUnmatched, ReasonUnmatched
		}
		return v
	}
	// The reference resolved and verified is the one that was matched:
	// built from the same parse, never parsed again another way.
	gref, err := info.Reference()
	if err != nil {
		v.Status, v.Reason = StatusError, fmt.Sprintf("cannot address image reference %q: %v", ref.Image, err)
		return v
	}
	res, err := r.resolves.do(gref.String(), func() (*registry.Resolved, error) { return r.e.o.Resolver.Resolve(ctx, gref) })
	if err != nil {
		v.Status, v.Reason = resolveFailure(gref, err, r.e.o.Resolver.Attempts())
		if allIgnoreErrors(applicable) {
			v.Status, v.Reason = StatusAudit, "failurePolicy Ignore: the policy could not be evaluated and Kyverno admits the resource: "+v.Reason
		}
		return v
	}
	v.Digest, v.Platforms = res.Digest.DigestStr(), res.Platforms
	_, pinned := gref.(name.Digest)
	moved := r.tagMoved(ctx, info, v.Digest)

	worst := -1
	if v.Status == StatusAudit {
		worst = severity(StatusAudit)
	}
	req := requiredCheck{}
	for _, ap := range applicable {
		vf := ap.vf
		var o verification
		if vf.Program != nil {
			po := r.verifyProgram(ctx, policy.ProgramInput{Image: ref.Image, Category: podCategory(ref, ap.podView), Digest: v.Digest, Resource: target, Now: now()}, vf)
			req.add(vf, po)
			o = po.verification
		} else {
			o = r.verifyOne(ctx, res.Digest, vf)
		}
		if o.status == StatusPass && vf.VerifyDigest && !vf.MutateDigest && !pinned {
			// Kyverno admits a tag only when its mutateDigest pins it first.
			notes := o.reason // a passing Program's notes (a Kyverno version difference)
			o.status, o.reason = failStatus(vf), fmt.Sprintf("missing digest for %s: the rule requires image@sha256:… (verifyDigest, mutateDigest false); it resolves to %s", ref.Image, v.Digest)
			if notes != "" {
				o.reason += " (" + notes + ")"
			}
		}
		if moved != "" && o.status != StatusPass {
			o.reason = moved + "; " + o.reason
		}
		if o.status != StatusPass {
			o.reason = ap.explain(kind, o.status, info) + o.reason
		}
		if sev := severity(o.status); sev > worst {
			worst = sev
			v.Status, v.Reason, v.Rule = o.status, o.reason, vf.Rule.ID()
			v.Attestor = o.attestor
			v.Expected, v.FoundSigner = o.expected, o.found
		}
		v.Attestations = appendStatements(v.Attestations, o.statements...)
		if o.condition != nil && v.FailedCondition == nil && o.status != StatusPass {
			v.FailedCondition = o.condition
		}
		if o.signed != nil && v.Signer == nil {
			v.Signer, v.Tlog, v.SignatureFormat, v.RFC3161Time = o.signed.Signer, o.signed.Tlog, o.signed.Format, o.signed.Timestamp
		}
		v.MutateDigest = v.MutateDigest || vf.MutateDigest
	}
	if o, ok := req.verdict(ref.Image); ok && severity(o.status) > worst {
		v.Status, v.Reason, v.Rule = o.status, o.reason, o.rule
	} else if v.Status == StatusPass && req.programs == len(applicable) && req.unverified == len(applicable) && !req.verified {
		// Every rule that applies is an expression that passed without
		// verifying a signature (required: false): the image passes
		// unverified, and the gate says so.
		v.Status, v.Reason = StatusUnmatched, "the policies that apply verified no signature or attestation of this image (validationConfigurations.required is false), so it passes unverified; --require-match (requireMatch) fails it"
		if r.e.o.RequireMatch {
			v.Status = StatusFail
		}
	}
	return v
}

// applied is a verification that covers an image occurrence, and how.
type applied struct {
	vf *policy.Verification
	// viaPods: the rule does not match the resource's kind, but as a Pod
	// rule it judges the Pods the resource creates.
	viaPods bool
	// podView: the rule also judges the Pods the resource creates (viaPods,
	// or a rule matching both the resource's kind and Pods), so an image is
	// placed where that Pod has it.
	podView bool
	// kyverno: Kyverno matches the image with its one spelling; when false
	// the gate applies the rule because another spelling of the same
	// pulled image matches it.
	kyverno bool
}

// explain says, before a verdict's reason, which admission will refuse the
// image when it is not the resource's own.
func (ap applied) explain(kind string, st Status, info imageref.Info) string {
	var out string
	if ap.viaPods {
		what := "the Pods this " + kind + " creates"
		if kind == "" {
			what = "the Pods this resource creates"
		}
		switch st {
		case StatusAudit:
			out = fmt.Sprintf("%s fail Audit rule %s (reported, not enforced): ", what, ap.vf.Rule.ID())
		case StatusError:
			out = fmt.Sprintf("%s are judged by rule %s, which could not decide: ", what, ap.vf.Rule.ID())
		default:
			out = fmt.Sprintf("%s are denied by rule %s: ", what, ap.vf.Rule.ID())
		}
	}
	if !ap.kyverno {
		out += fmt.Sprintf("Kyverno matches this image only as %s and would not apply rule %s to it, but the gate applies a rule to every spelling of the pulled image (%s); ",
			info.String(), ap.vf.Rule.ID(), strings.Join(info.Forms(), ", "))
	}
	return out
}

func severity(s Status) int {
	switch s {
	case StatusError:
		return 3
	case StatusFail:
		return 2
	case StatusAudit:
		return 1
	}
	return 0
}

func failStatus(vf *policy.Verification) Status {
	if vf.Audit {
		return StatusAudit
	}
	return StatusFail
}

type verification struct {
	status   Status
	reason   string
	attestor string
	signed   *verify.Outcome // a verified outcome, for the signer
	// statements are the attestations found, verified by an attestor.
	statements []verify.Statement
	condition  *conditions.Failure
	expected   *Expected      // of a failed attestor set
	found      *verify.Signer // who signed instead, when known
}

// appendStatements adds statements not already listed (the same statement
// is found through every attestor that signed it).
func appendStatements(list []verify.Statement, add ...verify.Statement) []verify.Statement {
	for _, s := range add {
		dup := false
		for _, e := range list {
			if e.PredicateType == s.PredicateType && e.Format == s.Format && e.Signer.String() == s.Signer.String() && reflect.DeepEqual(e.Provenance, s.Provenance) {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, s)
		}
	}
	return list
}

// verifyOne applies one verifyImages entry: every attestor set must have
// `count` entries verified (all, without count).
func (r *run) verifyOne(ctx context.Context, digest name.Digest, vf *policy.Verification) verification {
	var out verification
	var failures []string
	errored := false
	for i, set := range vf.Attestors {
		verified := 0
		var reasons []string
		var errs []string
		for _, a := range set.Entries {
			o := r.check(ctx, digest, vf, a)
			switch {
			case o.Err != nil:
				errs = append(errs, o.Err.Error())
			case o.Verified:
				verified++
				if out.signed == nil {
					oc := o
					out.signed, out.attestor = &oc, a.Path
				}
			default:
				reasons = append(reasons, o.Reason)
				if out.found == nil {
					out.found = o.Found
				}
			}
		}
		if verified >= set.Required() {
			continue
		}
		attestor := set.Entries[0]
		want := attestor.Describe()
		if len(set.Entries) > 1 {
			want = fmt.Sprintf("%d of %d attestors of attestors[%d]", set.Required(), len(set.Entries), i)
		}
		out.attestor = fmt.Sprintf("attestors[%d]", i)
		if len(set.Entries) == 1 {
			out.attestor = attestor.Path
		}
		// An error only matters when the set could still have passed.
		if len(errs) > 0 && verified+len(errs) >= set.Required() {
			errored = true
			failures = append(failures, strings.Join(dedupe(errs), "; "))
			continue
		}
		detail := strings.Join(dedupe(reasons), "; ")
		if len(set.Entries) > 1 {
			detail = fmt.Sprintf("%d verified, %d required: %s", verified, set.Required(), detail)
		}
		failures = append(failures, fmt.Sprintf("%s (want %s)", detail, want))
		if out.expected == nil {
			out.expected = expectedOf(set.Entries, want)
		}
	}
	for _, at := range vf.Attestations {
		for i, set := range at.Attestors {
			verified := 0
			var reasons, errs []string
			for _, a := range set.Entries {
				o := r.checkAttestation(ctx, digest, vf, at, a)
				out.statements = appendStatements(out.statements, o.Statements...)
				switch {
				case o.Err != nil:
					errs = append(errs, o.Err.Error())
				case o.Verified:
					verified++
				default:
					if o.Failure != nil && out.condition == nil {
						out.condition = o.Failure
					}
					reasons = append(reasons, o.Reason)
				}
			}
			if verified >= set.Required() {
				continue
			}
			where := fmt.Sprintf("attestations[%d].attestors[%d]", at.Index, i)
			if out.attestor == "" {
				out.attestor = where
			}
			if len(errs) > 0 && verified+len(errs) >= set.Required() {
				errored = true
				failures = append(failures, where+": "+strings.Join(dedupe(errs), "; "))
				continue
			}
			want := set.Entries[0].Describe()
			if len(set.Entries) > 1 {
				want = fmt.Sprintf("%d of %d attestors", set.Required(), len(set.Entries))
			}
			failures = append(failures, fmt.Sprintf("%s: %s (want %s signed by %s)", where, strings.Join(dedupe(reasons), "; "), at.Type, want))
		}
	}
	switch {
	case errored:
		out.status, out.reason = StatusError, strings.Join(failures, "; ")
	case len(failures) > 0:
		out.status, out.reason = failStatus(vf), strings.Join(failures, "; ")
	default:
		out.status = StatusPass
	}
	return out
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range s {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// check verifies one attestor against a digest, once per evaluation, using
// the cross-evaluation cache when one is configured.
func (r *run) check(ctx context.Context, digest name.Digest, vf *policy.Verification, a *policy.Attestor) verify.Outcome {
	repo := a.Repository
	if repo == "" {
		repo = vf.Repository
	}
	key := digest.String() + "|" + attestorKey(a, vf, repo, r.e.o.TrustID)
	o, _ := r.checks.do(key, func() (verify.Outcome, error) {
		if c := r.e.o.Cache; c != nil {
			if o, ok := c.Get(key); ok {
				return o, nil
			}
		}
		referrers := vf.CosignOCI11 || vf.Type == "SigstoreBundle" || vf.Type == policy.TypeAuto
		loc := verify.Location{Repository: repo, TagPrefix: a.TagPrefix}
		m, err := r.materials.do(fmt.Sprintf("%s|%s|%s|%v", digest, repo, a.TagPrefix, referrers), func() (*verify.Material, error) {
			return r.e.o.Verifier.FetchAt(ctx, digest, loc, referrers)
		})
		if errors.Is(err, verify.ErrTooManySignatures) {
			return verify.Outcome{Err: err}, nil
		}
		if err != nil {
			_, reason := resolveFailure(digest, err, r.e.o.Resolver.Attempts())
			return verify.Outcome{Err: errors.New(reason)}, nil
		}
		o := r.e.o.Verifier.Check(ctx, m, a, vf)
		if c := r.e.o.Cache; c != nil && o.Err == nil {
			ttl := r.e.o.NegativeTTL
			if o.Verified {
				ttl = r.e.o.PositiveTTL
			}
			c.Put(key, o, ttl)
		}
		return o, nil
	})
	return o
}

// checkAttestation verifies one attestation against one attestor, once
// per evaluation.
func (r *run) checkAttestation(ctx context.Context, digest name.Digest, vf *policy.Verification, at *policy.Attestation, a *policy.Attestor) verify.AttOutcome {
	repo := a.Repository
	if repo == "" {
		repo = vf.Repository
	}
	key := digest.String() + "|" + at.Path() + "|" + attestorKey(a, vf, repo, r.e.o.TrustID)
	o, _ := r.attChecks.do(key, func() (verify.AttOutcome, error) {
		loc := verify.Location{Repository: repo, TagPrefix: a.TagPrefix}
		m, err := r.attMaterials.do(digest.String()+"|"+repo+"|"+a.TagPrefix, func() (*verify.AttMaterial, error) {
			return r.e.o.Verifier.FetchAttestationsAt(ctx, digest, loc)
		})
		if errors.Is(err, verify.ErrTooManySignatures) || errors.Is(err, verify.ErrAttestationSource) {
			return verify.AttOutcome{Err: err}, nil
		}
		if err != nil {
			_, reason := resolveFailure(digest, err, r.e.o.Resolver.Attempts())
			return verify.AttOutcome{Err: errors.New(reason)}, nil
		}
		return r.e.o.Verifier.CheckAttestation(ctx, m, a, at, time.Now()), nil
	})
	return o
}

func attestorKey(a *policy.Attestor, vf *policy.Verification, repo, trust string) string {
	// Everything that changes what verifies: a result under the policy's
	// own trusted root, or found under a tag prefix, is never reused for
	// an attestor without them.
	b, _ := json.Marshal(struct {
		K                   *policy.Keyless
		Key                 *policy.Key
		C                   *policy.Certificate
		Ann                 map[string]string
		Alg, Type, Repo, ID string
		OCI11               bool
		Prefix, Root        string
		PublicGood          bool
	}{a.Keyless, a.Key, a.Certificate, a.Annotations, a.SignatureAlgorithm, vf.Type, repo, trust, vf.CosignOCI11,
		a.TagPrefix, a.TrustedRoot, a.PublicGoodTUF})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// resolveFailure turns a registry error into a status and a reason that
// names the registry: a missing image is a failure, anything else an error.
func resolveFailure(ref name.Reference, err error, attempts int) (Status, string) {
	host := ref.Context().RegistryStr()
	tries := ""
	if attempts > 1 {
		tries = fmt.Sprintf(" after %d tries", attempts)
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == 404:
			return StatusFail, fmt.Sprintf("%s does not exist in registry %s", ref, host)
		case te.StatusCode == 429 || te.StatusCode >= 500:
			return StatusError, fmt.Sprintf("registry %s: %d %s%s", host, te.StatusCode, http.StatusText(te.StatusCode), tries)
		}
		return StatusError, fmt.Sprintf("registry %s: HTTP %d: %s", host, te.StatusCode, shortErr(te))
	}
	if errors.Is(err, context.Canceled) {
		return StatusError, fmt.Sprintf("registry %s: evaluation cancelled", host)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return StatusError, fmt.Sprintf("registry %s: no answer in time%s: %v", host, tries, shortErr(err))
	}
	return StatusError, fmt.Sprintf("registry %s: %v%s", host, shortErr(err), tries)
}

// tagMoved reports, for a reference that carries both a tag and a digest,
// that the tag now points elsewhere: the pinned digest is still what is
// verified (as Kyverno does), but the reader should know.
func (r *run) tagMoved(ctx context.Context, info imageref.Info, pinned string) string {
	if info.Digest == "" {
		return ""
	}
	tag, ok := info.TagReference()
	if !ok {
		return ""
	}
	res, err := r.resolves.do(tag.String(), func() (*registry.Resolved, error) { return r.e.o.Resolver.Resolve(ctx, tag) })
	if err != nil || res.Digest.DigestStr() == pinned {
		return ""
	}
	return fmt.Sprintf("tag %s moved: %s → %s (the pinned digest is what is verified)", tag.TagStr(), pinned, res.Digest.DigestStr())
}

func shortErr(err error) string {
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}

// memo runs a function once per key and shares the result.
type memo[V any] struct {
	m sync.Map
}

type memoCall[V any] struct {
	once sync.Once
	v    V
	err  error
}

func (m *memo[V]) do(key string, f func() (V, error)) (V, error) {
	c, _ := m.m.LoadOrStore(key, &memoCall[V]{})
	call := c.(*memoCall[V])
	call.once.Do(func() { call.v, call.err = f() })
	return call.v, call.err
}

// expectedOf is what a failed attestor set wants, in short.
func expectedOf(entries []*policy.Attestor, want string) *Expected {
	if len(entries) != 1 || entries[0].Keyless == nil {
		return &Expected{Other: want}
	}
	k := entries[0].Keyless
	e := &Expected{Issuer: k.Issuer, Subject: k.Subject}
	if k.IssuerRegExp != "" {
		e.Issuer = "/" + k.IssuerRegExp + "/"
	}
	if k.SubjectRegExp != "" {
		e.Subject = "/" + k.SubjectRegExp + "/"
	}
	var ext []string
	for _, name := range sortedKeys(k.AdditionalExtensions) {
		ext = append(ext, fmt.Sprintf("%s %q", name, k.AdditionalExtensions[name]))
	}
	e.Other = strings.Join(ext, ", ")
	return e
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
