package ivpol

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/gobwas/glob"

	"github.com/gitops-gate/gitops-gate/gate/imageref"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/policy/celexpr"
)

// program is an IVPOL's validations, run per image occurrence
// (policy.Program).
type program struct {
	pol  *policy.Policy
	vf   *policy.Verification
	cons *constraints

	extractors  []namedProgram // images[]
	globs       []glob.Glob
	refExprs    []namedProgram
	variables   []namedProgram
	validations []validation

	attestors    map[string][]*policy.Attestor // name → alternatives (one per identity)
	attestorKeys []string
	attestations map[string]*policy.Attestation
	referrers    map[string]string // referrer attestation name → artifact type

	exceptions []*exception
	// olderKyverno is the configured Kyverno version when it is below
	// 1.19, whose IVPOL ignored mutateDigest, verifyDigest and required.
	olderKyverno string
}

type validation struct {
	index             int
	prog, messageExpr *celexpr.Program
	message           string
}

// MatchImage is matchImageReferences: any glob (gobwas/glob, no
// separators: * crosses /) or expression over ref matches the reference
// exactly as written; no entries match every image
// (kyverno/kyverno pkg/cel/matching/image.go).
func (p *program) MatchImage(raw string) (bool, error) {
	if len(p.globs) == 0 && len(p.refExprs) == 0 {
		return true, nil
	}
	for _, g := range p.globs {
		if g.Match(raw) {
			return true, nil
		}
	}
	for _, e := range p.refExprs {
		ok, err := e.prog.EvalBool(context.Background(), map[string]any{"ref": raw}, nil)
		if err != nil {
			return false, fmt.Errorf("%s: %w", e.field, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// Run implements policy.Program.
func (p *program) Run(ctx context.Context, in policy.ProgramInput, c policy.Checker) policy.ProgramResult {
	var res policy.ProgramResult
	obj := p.cons.objectFor(in.Resource)
	vars := p.cons.vars(in.Resource, obj)
	for _, ex := range p.exceptions {
		if ex.Expired(in.Now) {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s expired at %s and no longer applies", ex.id(), ex.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")))
			continue
		}
		ok, err := ex.applies(ctx, in.Image, vars)
		if err != nil {
			res.Err = err
			return res
		}
		if ok {
			res.Excepted = ex.id()
			if !ex.ExpiresAt.IsZero() {
				res.Excepted += " until " + ex.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")
			}
			return res
		}
	}
	image := in.Image
	if info, err := imageref.Parse(image); err == nil && info.Digest == "" && p.vf.MutateDigest && in.Digest != "" {
		// Kyverno 1.19 pins the tag (mutateDigest) before it validates:
		// the validations see image@digest.
		image += "@" + in.Digest
	}
	images := map[string][]string{"containers": {}, "initContainers": {}, "ephemeralContainers": {}}
	if in.Category != "" {
		images[in.Category] = []string{image}
	}
	if len(p.extractors) > 0 {
		// The images[] extractors list the image under their own
		// categories when they find it in the object.
		found, err := p.ExtractImages(ctx, in.Resource)
		if err != nil {
			res.Err = err
			return res
		}
		for cat, list := range found {
			images[cat] = []string{}
			for _, im := range list {
				if im == in.Image {
					images[cat] = []string{image}
				}
			}
		}
	}
	vars["images"] = images
	att := map[string]any{}
	for _, k := range p.attestorKeys {
		att[k] = map[string]any{"name": k}
	}
	vars["attestors"] = att
	ats := map[string]string{}
	for k := range p.attestations {
		ats[k] = k
	}
	for k := range p.referrers {
		ats[k] = k
	}
	vars["attestations"] = ats
	f := &funcs{p: p, c: c, image: image}
	variables := map[string]any{}
	vars["variables"] = variables
	var varErrs []string
	for _, v := range p.variables {
		out, err := v.prog.Eval(ctx, vars, f)
		if err == nil {
			var n any
			if n, err = celexpr.Native(out); err == nil {
				variables[v.name] = n
				continue
			}
		}
		if errors.Is(err, celexpr.ErrCostLimit) {
			res.Err = fmt.Errorf("%s: %w", v.field, err)
			return res
		}
		varErrs = append(varErrs, fmt.Sprintf("%s: %v", v.field, err))
	}
	res.Pass = true
	for _, v := range p.validations {
		ok, err := v.prog.EvalBool(ctx, vars, f)
		if err != nil {
			msg := fmt.Sprintf("spec.validations[%d].expression: %v", v.index, err)
			if len(varErrs) > 0 {
				msg += " (" + strings.Join(varErrs, "; ") + ")"
			}
			res.Pass, res.Err = false, errors.New(msg)
			break
		}
		if ok {
			continue
		}
		res.Pass = false
		res.Message = v.message
		if v.messageExpr != nil {
			if out, err := v.messageExpr.Eval(ctx, vars, f); err != nil {
				res.Message = fmt.Sprintf("failed to evaluate message expression: %v", err)
			} else if s, err := celexpr.Native(out); err == nil {
				if str, ok := s.(string); ok {
					res.Message = str
				}
			}
		}
		if res.Message == "" {
			res.Message = fmt.Sprintf("CEL expression validation failed at index %d", v.index)
		}
		break
	}
	res.Verified, res.Attempted = f.verified, f.attempted
	res.Warnings = append(res.Warnings, p.versionWarnings(in.Image, res)...)
	return res
}

// versionWarnings say where a Kyverno before 1.19 decides otherwise: it
// pins no tag, ignores verifyDigest and ignores required.
func (p *program) versionWarnings(image string, res policy.ProgramResult) []string {
	if p.olderKyverno == "" || res.Err != nil || res.Excepted != "" {
		return nil
	}
	var out []string
	info, err := imageref.Parse(image)
	tag := err == nil && info.Digest == ""
	v := "Kyverno " + p.olderKyverno
	switch {
	case tag && p.vf.MutateDigest:
		out = append(out, v+" does not pin tags (mutateDigest takes effect in 1.19): this tag is admitted as written")
	case tag && p.vf.VerifyDigest:
		out = append(out, v+" ignores verifyDigest: a tag will be admitted")
	}
	if p.vf.Required && res.Pass && !res.Verified {
		out = append(out, v+" ignores required: an image no policy verified is admitted")
	}
	return out
}

// funcs are the verification functions of one run; they count attestors
// as Kyverno does and record whether the judged image was verified
// (validationConfigurations.required).
type funcs struct {
	p     *program
	c     policy.Checker
	image string

	mu                  sync.Mutex
	verified, attempted bool
}

func (f *funcs) record(image string, n, attestors int) {
	if image != f.image || attestors == 0 {
		return
	}
	f.mu.Lock()
	f.attempted = true
	f.verified = f.verified || n > 0
	f.mu.Unlock()
}

// count runs check on each named attestor: an attestor counts when any of
// its identities verifies. An error on an attestor that did not verify
// makes the count unknown: an error, never a pass.
func (f *funcs) count(names []string, check func([]*policy.Attestor) (int, error)) (int, error) {
	n := 0
	var errs []string
	for _, name := range names {
		alts, ok := f.p.attestors[name]
		if !ok {
			return 0, fmt.Errorf("attestor %q is not in the policy", name)
		}
		got, err := check(alts)
		switch {
		case got > 0:
			n++
		case err != nil:
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return n, errors.New(strings.Join(errs, "; "))
	}
	return n, nil
}

func (f *funcs) VerifyImageSignatures(ctx context.Context, image string, attestors []string) (int, error) {
	if ok, err := f.p.MatchImage(image); err != nil || !ok {
		return 0, err // Kyverno: an image matchImageReferences skips counts 0
	}
	n, err := f.count(attestors, func(alts []*policy.Attestor) (int, error) { return f.c.Signatures(ctx, image, alts) })
	f.record(image, n, len(attestors))
	return n, err
}

func (f *funcs) VerifyAttestationSignatures(ctx context.Context, image, attestation string, attestors []string) (int, error) {
	at, ok := f.p.attestations[attestation]
	if !ok {
		if _, ref := f.p.referrers[attestation]; !ref {
			return 0, fmt.Errorf("attestation %q is not in the policy", attestation)
		}
	}
	if ok, err := f.p.MatchImage(image); err != nil || !ok {
		return 0, err
	}
	if at == nil {
		// A referrer attestation: cosign attestors verify in-toto
		// statements only; Notary, which verifies referrers, is refused
		// at load.
		f.record(image, 0, len(attestors))
		return 0, nil
	}
	n, err := f.count(attestors, func(alts []*policy.Attestor) (int, error) { return f.c.Attestations(ctx, image, at, alts) })
	f.record(image, n, len(attestors))
	return n, err
}

func (f *funcs) ExtractPayload(ctx context.Context, image, attestation string) (any, error) {
	at, ok := f.p.attestations[attestation]
	if !ok {
		if _, ref := f.p.referrers[attestation]; ref {
			return nil, fmt.Errorf("extractPayload of referrer attestation %q: referrer payloads are verified by Notary, which gitops-gate does not support", attestation)
		}
		return nil, fmt.Errorf("attestation %q is not in the policy", attestation)
	}
	return f.c.Statement(ctx, image, at)
}

func (f *funcs) GetImageData(ctx context.Context, image string) (any, error) {
	return f.c.ImageData(ctx, image)
}

// ExtractImages runs the images[] extractors on the object the policy
// sees (policy.ImageExtractor). Kyverno adds these categories to the
// built-in ones; an extractor that fails or gives anything but strings is
// an error.
// Extracts implements policy.ImageExtractor.
func (p *program) Extracts() bool { return len(p.extractors) > 0 }

func (p *program) ExtractImages(ctx context.Context, res policy.Resource) (map[string][]string, error) {
	if len(p.extractors) == 0 {
		return nil, nil
	}
	obj := p.cons.objectFor(res)
	if obj == nil {
		return nil, fmt.Errorf("spec.images of %s %s needs the object, which the gate does not have here", p.pol.Kind, p.pol.Name)
	}
	vars := p.cons.vars(res, obj)
	out := map[string][]string{}
	for _, x := range p.extractors {
		v, err := x.prog.Eval(ctx, vars, nil)
		if err != nil {
			return nil, fmt.Errorf("%s %s %s (%s): %w", p.pol.Kind, p.pol.Name, x.field, x.name, err)
		}
		n, err := celexpr.Native(v)
		if err != nil {
			return nil, fmt.Errorf("%s %s %s: %w", p.pol.Kind, p.pol.Name, x.field, err)
		}
		list, ok := n.([]any)
		if !ok {
			return nil, fmt.Errorf("%s %s %s gave %T, want a list of image references", p.pol.Kind, p.pol.Name, x.field, n)
		}
		out[x.name] = []string{}
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s %s %s gave %v, want image references (strings)", p.pol.Kind, p.pol.Name, x.field, e)
			}
			out[x.name] = append(out[x.name], s)
		}
	}
	return out, nil
}
