package gate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate/imageref"
	"github.com/gitops-gate/gitops-gate/gate/incremental"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// programOutcome is a verification decided by a policy.Program, with what
// the required check needs.
type programOutcome struct {
	verification
	verified, attempted bool
	excepted            string
	// unverified: the program passed without verifying the image.
	unverified bool
	warnings   []string
}

// verifyProgram runs a verification's Program on one image occurrence. Its
// verification functions verify through the same memoised checks as the
// declarative path.
func (r *run) verifyProgram(ctx context.Context, in policy.ProgramInput, vf *policy.Verification) programOutcome {
	c := &checker{r: r, vf: vf, statements: map[string]verify.Statement{}}
	res := vf.Program.Run(ctx, in, c)
	out := programOutcome{verified: res.Verified, attempted: res.Attempted, excepted: res.Excepted, warnings: res.Warnings}
	out.statements = c.found
	if c.signed != nil {
		out.signed, out.attestor = c.signed, c.signedBy
	}
	out.found = c.foundSigner
	warn := ""
	if len(res.Warnings) > 0 {
		warn = " (" + strings.Join(res.Warnings, "; ") + ")"
	}
	switch {
	case res.Excepted != "":
		out.status, out.reason = StatusSkipped, "exempted by "+res.Excepted+warn
	case res.Err != nil && vf.IgnoreErrors:
		out.status, out.reason = StatusAudit, fmt.Sprintf("failurePolicy Ignore: the policy could not be evaluated and Kyverno admits the resource: %v%s", res.Err, warn)
	case res.Err != nil:
		out.status, out.reason = StatusError, res.Err.Error()+warn
	case !res.Pass:
		out.status = failStatus(vf)
		out.reason = res.Message
		if vf.Audit {
			out.reason = "validationActions without Deny (reported, not enforced): " + out.reason
		}
		if len(c.reasons) > 0 {
			out.reason += ": " + strings.Join(dedupe(c.reasons), "; ")
		}
		out.reason += warn
	default:
		out.status = StatusPass
		out.unverified = !res.Verified
		out.reason = strings.Join(res.Warnings, "; ")
	}
	return out
}

// checker implements policy.Checker for one Program run.
type checker struct {
	r  *run
	vf *policy.Verification

	mu          sync.Mutex
	statements  map[string]verify.Statement // image|attestation → verified statement
	found       []verify.Statement
	reasons     []string
	signed      *verify.Outcome
	signedBy    string
	foundSigner *verify.Signer
}

// resolve turns an image the expression passes into a digest.
func (c *checker) resolve(ctx context.Context, image string) (name.Digest, error) {
	info, err := imageref.Parse(image)
	if err != nil {
		return name.Digest{}, err
	}
	gref, err := info.Reference()
	if err != nil {
		return name.Digest{}, fmt.Errorf("cannot address image reference %q: %w", image, err)
	}
	res, err := c.r.resolves.do(gref.String(), func() (*registry.Resolved, error) { return c.r.e.o.Resolver.Resolve(ctx, gref) })
	if err != nil {
		_, reason := resolveFailure(gref, err, c.r.e.o.Resolver.Attempts())
		return name.Digest{}, errors.New(reason)
	}
	return res.Digest, nil
}

func (c *checker) Signatures(ctx context.Context, image string, attestors []*policy.Attestor) (int, error) {
	d, err := c.resolve(ctx, image)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []string
	for _, a := range attestors {
		o := c.r.check(ctx, d, c.vf, a)
		c.mu.Lock()
		switch {
		case o.Err != nil:
			errs = append(errs, a.Path+": "+o.Err.Error())
		case o.Verified:
			n++
			if c.signed == nil {
				oc := o
				c.signed, c.signedBy = &oc, a.Path
			}
		default:
			c.reasons = append(c.reasons, a.Path+": "+o.Reason)
			if c.foundSigner == nil {
				c.foundSigner = o.Found
			}
		}
		c.mu.Unlock()
	}
	if len(errs) > 0 && n < len(attestors) {
		// An attestor that could not be checked might have verified:
		// the count is unknown, and an unknown never passes.
		return n, errors.New(strings.Join(dedupe(errs), "; "))
	}
	return n, nil
}

func (c *checker) Attestations(ctx context.Context, image string, at *policy.Attestation, attestors []*policy.Attestor) (int, error) {
	d, err := c.resolve(ctx, image)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []string
	for _, a := range attestors {
		o := c.r.checkAttestation(ctx, d, c.vf, at, a)
		c.mu.Lock()
		c.found = appendStatements(c.found, o.Statements...)
		switch {
		case o.Err != nil:
			errs = append(errs, a.Path+": "+o.Err.Error())
		case o.Verified:
			n++
			if len(o.Statements) > 0 {
				c.statements[image+"|"+at.Name] = o.Statements[0]
			}
		default:
			c.reasons = append(c.reasons, a.Path+": "+o.Reason)
		}
		c.mu.Unlock()
	}
	if len(errs) > 0 && n < len(attestors) {
		return n, errors.New(strings.Join(dedupe(errs), "; "))
	}
	return n, nil
}

// Statement is the verified statement, in the in-toto shape Kyverno's
// extractPayload returns: _type, predicateType, subject and predicate.
func (c *checker) Statement(ctx context.Context, image string, at *policy.Attestation) (map[string]any, error) {
	c.mu.Lock()
	s, ok := c.statements[image+"|"+at.Name]
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("extractPayload(%q, %q): the in-toto payload cannot be read before verifyAttestationSignatures verified it (as in Kyverno)", image, at.Name)
	}
	d, err := c.resolve(ctx, image)
	if err != nil {
		return nil, err
	}
	algo, hex, _ := strings.Cut(d.DigestStr(), ":")
	return map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"predicateType": s.PredicateType,
		"subject":       []any{map[string]any{"name": d.Context().Name(), "digest": map[string]any{algo: hex}}},
		"predicate":     s.Predicate,
	}, nil
}

// ImageData is what getImageData returns that the gate knows without
// pulling the image: the reference's parts and the resolved digest.
func (c *checker) ImageData(ctx context.Context, image string) (map[string]any, error) {
	info, err := imageref.Parse(image)
	if err != nil {
		return nil, err
	}
	d, err := c.resolve(ctx, image)
	if err != nil {
		return nil, err
	}
	identifier := info.Tag
	if info.Digest != "" {
		identifier = info.Digest
	}
	return map[string]any{
		"image":         image,
		"resolvedImage": info.Repository() + "@" + d.DigestStr(),
		"registry":      info.Registry,
		"repository":    info.Path,
		"identifier":    identifier,
		"tag":           info.Tag,
		"digest":        d.DigestStr(),
	}, nil
}

// now is the evaluation time of Programs (exception expiry).
var now = time.Now

// requiredCheck is validationConfigurations.required across the Programs
// that judged one image occurrence (Kyverno's EnforceRequired, run after
// every policy of the request): an image a required policy matched must
// have been verified by some policy's verification function.
type requiredCheck struct {
	required            []*policy.Verification
	verified, attempted bool
	// passedUnverified: a program passed the image without verifying it,
	// and nothing else verified it.
	programs, unverified int
	warnings             []string
}

func (q *requiredCheck) add(vf *policy.Verification, o programOutcome) {
	q.verified = q.verified || o.verified
	q.programs++
	q.warnings = append(q.warnings, o.warnings...)
	if o.unverified {
		q.unverified++
	}
	q.attempted = q.attempted || o.attempted
	if vf.Required && o.excepted == "" && o.status == StatusPass {
		q.required = append(q.required, vf)
	}
}

type requiredVerdict struct {
	status       Status
	reason, rule string
}

func (q *requiredCheck) verdict(image string) (requiredVerdict, bool) {
	if len(q.required) == 0 || q.verified {
		return requiredVerdict{}, false
	}
	vf := q.required[0]
	reason := fmt.Sprintf("image %s is not verified: no policy performed a signature or attestation check on it (validationConfigurations.required)", image)
	if q.attempted {
		reason = fmt.Sprintf("image %s failed signature or attestation verification (validationConfigurations.required)", image)
	}
	if len(q.warnings) > 0 {
		reason += " (" + strings.Join(dedupe(q.warnings), "; ") + ")"
	}
	return requiredVerdict{status: failStatus(vf), reason: reason, rule: vf.Rule.ID()}, true
}

func allIgnoreErrors(aps []applied) bool {
	for _, ap := range aps {
		if !ap.vf.IgnoreErrors {
			return false
		}
	}
	return len(aps) > 0
}

func ignoresErrors(r *policy.Rule) bool {
	for _, vf := range r.Verify {
		if !vf.IgnoreErrors {
			return false
		}
	}
	return len(r.Verify) > 0
}

// category is the images key an occurrence is listed under by Kyverno's
// built-in extractors (containers, initContainers, ephemeralContainers),
// from its field path; "" for any other field.
func category(ref manifests.ImageRef) string {
	for _, c := range []string{"initContainers", "ephemeralContainers", "containers"} {
		if strings.Contains(ref.FieldPath, "."+c+"[") || strings.HasPrefix(ref.FieldPath, c+"[") {
			return c
		}
	}
	return "" // not a built-in field: the policy's own extractors place it
}

// podCategory is category for a rule that judges the Pods a resource
// creates (viaPods). A pod-running custom resource (a Tekton step or
// sidecar, an Argo Workflow template's container or script) writes its
// images outside any containers[] field, but they run as containers of the
// Pod its controller creates, and that Pod is what Kyverno admits: leaving
// the category empty would hand the validations no image at all, and
// `.all()` over nothing passes.
func podCategory(ref manifests.ImageRef, viaPods bool) string {
	if c := category(ref); c != "" || !viaPods {
		return c
	}
	return "containers"
}

// objectOf is the object an occurrence is written in, when known.
func (r *run) objectOf(ref manifests.ImageRef) map[string]any {
	if r.objects == nil {
		return nil
	}
	return r.objects(ref)
}

// renderedObjects indexes the rendered resources by app and resource, and
// decodes one only when a rule asks for it.
func renderedObjects(rendered []*manifests.Rendered) Objects {
	ix := &objectIndex{}
	for _, rd := range rendered {
		ix.add(rd)
	}
	return ix.lookup
}

// objectIndex is renderedObjects filled app by app, as a scan renders
// them: an app's objects are added before its images are judged.
type objectIndex struct{ m sync.Map }

type objectEntry struct {
	once sync.Once
	node *yaml.Node
	yaml string // a recorded object (incremental.Object)
	obj  map[string]any
}

func objectKey(app string, id manifests.ResourceID) string {
	return app + "\x00" + id.APIVersion + "\x00" + id.String()
}

func (ix *objectIndex) add(rd *manifests.Rendered) {
	for i := range rd.Resources {
		res := &rd.Resources[i]
		ix.m.Store(objectKey(rd.App.Name, res.ResourceID), &objectEntry{node: res.Node})
	}
}

// addRecorded adds a carried-over app's objects, as its record kept them.
func (ix *objectIndex) addRecorded(app string, objs []incremental.Object) {
	for _, o := range objs {
		ix.m.Store(objectKey(app, o.Resource), &objectEntry{yaml: o.YAML})
	}
}

func (ix *objectIndex) lookup(ref manifests.ImageRef) map[string]any {
	v, ok := ix.m.Load(objectKey(ref.App, ref.Resource))
	if !ok {
		return nil
	}
	e := v.(*objectEntry)
	e.once.Do(func() {
		var m map[string]any
		switch {
		case e.node != nil:
			if e.node.Decode(&m) == nil {
				e.obj = m
			}
		case e.yaml != "":
			e.obj = decodeObject(e.yaml)
		}
	})
	return e.obj
}

// decodedObjects keeps recorded objects decoded, by their text: a warm
// evaluation of a monorepo under an ImageValidatingPolicy decodes the same
// thousands of carried-over objects as the one before (a quarter of its
// CPU). Every caller gets its own deep copy, so no evaluation can see
// what another did to one. Bounded by the text kept.
var decodedObjects struct {
	m     sync.Map // [sha256.Size]byte -> map[string]any, never handed out
	bytes atomic.Int64
}

const maxDecodedObjectBytes = 8 << 20

func decodeObject(text string) map[string]any {
	key := sha256.Sum256([]byte(text))
	if v, ok := decodedObjects.m.Load(key); ok {
		return deepCopy(v.(map[string]any)).(map[string]any)
	}
	var m map[string]any
	if yaml.Unmarshal([]byte(text), &m) != nil || m == nil {
		return nil
	}
	if decodedObjects.bytes.Add(int64(len(text))) > maxDecodedObjectBytes {
		decodedObjects.m.Clear()
		decodedObjects.bytes.Store(int64(len(text)))
	}
	decodedObjects.m.Store(key, m)
	return deepCopy(m).(map[string]any)
}

// deepCopy copies the maps and lists YAML decodes to; scalars are values.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = deepCopy(x)
		}
		return out
	case map[any]any:
		out := make(map[any]any, len(v))
		for k, x := range v {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	case []byte:
		return append([]byte(nil), v...)
	}
	return v
}

// addExtracted adds to the inventory the images that Programs find with
// extractors of their own (an IVPOL's images[]), each as an occurrence of
// its resource, so that every rule judges them. An extractor that fails,
// or a rule with extractors that cannot tell whether it applies, is an
// error occurrence: an image it might have found is never skipped.
func (e *Engine) addExtracted(ctx context.Context, inv *manifests.Inventory, rendered []*manifests.Rendered) {
	xs := e.imageExtractors()
	if len(xs) == 0 {
		return
	}
	apps := map[string]*manifests.AppImages{}
	for i := range inv.Apps {
		apps[inv.Apps[i].Name] = &inv.Apps[i]
	}
	for _, rd := range rendered {
		if app := apps[rd.App.Name]; app != nil {
			addExtractedApp(ctx, xs, app, rd)
		}
	}
}

// extracting is a rule's own image extractor.
type extracting struct {
	rule *policy.Rule
	x    policy.ImageExtractor
}

func (e *Engine) imageExtractors() []extracting {
	var xs []extracting
	for _, r := range e.Policies.Rules() {
		for _, vf := range r.Verify {
			// A program without images[] finds nothing: asking whether
			// it applies to every resource (a ConfigMap under a Pod policy
			// whose matchConditions read labels) could only fail.
			if x, ok := vf.Program.(policy.ImageExtractor); ok && x.Extracts() {
				xs = append(xs, extracting{r, x})
			}
		}
	}
	return xs
}

// addExtractedApp is addExtracted for one app and its rendering.
func addExtractedApp(ctx context.Context, xs []extracting, app *manifests.AppImages, rd *manifests.Rendered) {
	for i := range rd.Resources {
		res := &rd.Resources[i]
		var obj map[string]any
		if res.Node == nil || res.Node.Decode(&obj) != nil {
			continue
		}
		have := map[string]bool{}
		for _, ref := range app.Images {
			if ref.Resource == res.ResourceID {
				have[ref.Image] = true
			}
		}
		target := policy.Resource{APIVersion: res.APIVersion, Kind: res.Kind, Namespace: res.Namespace, Name: res.Name, Object: obj}
		add := func(ref manifests.ImageRef) {
			ref.App, ref.File, ref.Line, ref.Resource = app.Name, res.File, res.Line, res.ResourceID
			app.Images = append(app.Images, ref)
		}
		for _, x := range xs {
			direct, viaPods, err := x.rule.AppliesTo(ctx, target)
			if err == nil && !direct && !viaPods {
				continue
			}
			var found map[string][]string
			if err == nil {
				found, err = x.x.ExtractImages(ctx, target)
			}
			if err != nil {
				add(manifests.ImageRef{FieldPath: "images (" + x.rule.ID() + ")", Error: "the images[] extractors of " + x.rule.Policy.Name + " could not run: " + err.Error()})
				continue
			}
			for _, cat := range sortedCategories(found) {
				for _, img := range found[cat] {
					if have[img] {
						continue
					}
					have[img] = true
					add(manifests.ImageRef{Image: img, FieldPath: "images." + cat + " (" + x.rule.Policy.Name + ")", Container: cat})
				}
			}
		}
	}
}

func sortedCategories(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
