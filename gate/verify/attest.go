package verify

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/policy/conditions"
)

// AttMaterial is every attestation found for one digest.
type AttMaterial struct {
	Digest name.Digest
	// Classic are the DSSE envelopes of the sha256-<hex>.att tag
	// (cosign attest).
	Classic []oci.Signature
	// Bundles are Sigstore bundles holding a DSSE envelope, from the OCI
	// 1.1 referrers or their sha256-<hex> fallback tag (cosign v3,
	// actions/attest with push-to-registry).
	Bundles []*sgbundle.Bundle
	// Files are the DSSE bundles given on the command line (--bundle),
	// read whatever the rule's type.
	Files []*sgbundle.Bundle
	// GitHub are the bundles of the GitHub artifact attestations API
	// (Options.GitHub), read whatever the rule's type, like Files.
	GitHub []*sgbundle.Bundle
	// Looked says where the gate looked, for a reason when nothing fits.
	Looked []string
}

// FetchAttestations collects the attestations of digest: the .att tag and
// every OCI 1.1 referrer that is a Sigstore bundle with a DSSE envelope,
// whatever its descriptor's artifactType (cosign v3 has written an empty
// one, or application/vnd.oci.empty.v1+json, in the fallback tag).
func (v *Verifier) FetchAttestations(ctx context.Context, digest name.Digest, repository string) (*AttMaterial, error) {
	return v.FetchAttestationsAt(ctx, digest, Location{Repository: repository})
}

// FetchAttestationsAt is FetchAttestations with the attestations stored at
// loc (another repository, a tag prefix).
func (v *Verifier) FetchAttestationsAt(ctx context.Context, digest name.Digest, loc Location) (*AttMaterial, error) {
	opts, target, err := v.remoteOptions(ctx, loc, "attestation")
	if err != nil {
		return nil, err
	}
	m := &AttMaterial{Digest: digest}
	for _, b := range v.files {
		if b.GetDsseEnvelope() != nil {
			m.Files = append(m.Files, b)
		}
	}
	if v.source != nil {
		list, looked, err := v.source.Attestations(ctx, digest.DigestStr())
		if err != nil {
			return nil, &SourceError{Err: err}
		}
		for _, b := range list {
			if b.GetDsseEnvelope() != nil {
				m.GitHub = append(m.GitHub, b)
			}
		}
		m.Looked = append(m.Looked, looked...)
	}
	tag, err := ociremote.AttestationTag(digest, opts...)
	if err != nil {
		return nil, err
	}
	atts, err := ociremote.Signatures(tag, opts...)
	if err == nil {
		m.Classic, err = atts.Get()
		m.Classic = memoize(m.Classic)
	}
	switch {
	case err != nil && !notFound(err):
		return nil, fmt.Errorf("fetching attestations of %s: %w", digest.DigestStr(), err)
	case len(m.Classic) == 0:
		m.Looked = append(m.Looked, "no .att tag ("+tag.TagStr()+")")
	default:
		m.Looked = append(m.Looked, fmt.Sprintf(".att tag: %d attestations", len(m.Classic)))
	}
	if len(m.Classic) > v.max {
		return nil, fmt.Errorf("%w: the attestation tag of %s holds %d attestations, more than the %d the gate examines per digest", ErrTooManySignatures, digest.DigestStr(), len(m.Classic), v.max)
	}
	fallback := strings.Replace(digest.DigestStr(), ":", "-", 1)
	idx, err := ociremote.Referrers(digest, "", opts...)
	if err != nil {
		if !notFound(err) {
			return nil, fmt.Errorf("listing referrers of %s: %w", digest.DigestStr(), err)
		}
		m.Looked = append(m.Looked, "no OCI 1.1 referrers (referrers API and fallback tag "+fallback+")")
		return m, nil
	}
	if len(idx.Manifests) > v.max {
		return nil, fmt.Errorf("%w: %s has %d OCI referrers, more than the %d the gate examines per digest", ErrTooManySignatures, digest.DigestStr(), len(idx.Manifests), v.max)
	}
	for _, desc := range idx.Manifests {
		ref := digest.Context().Digest(desc.Digest.String())
		if target != nil {
			ref = target.Digest(desc.Digest.String())
		}
		// The descriptor's artifactType is not trusted to say what the
		// manifest holds: ociremote.Bundle reads the layer's media type.
		if b, err := ociremote.Bundle(ref, opts...); err == nil && b.GetDsseEnvelope() != nil {
			m.Bundles = append(m.Bundles, b)
		}
	}
	if len(idx.Manifests) == 0 {
		m.Looked = append(m.Looked, "no OCI 1.1 referrers (referrers API and fallback tag "+fallback+")")
	} else {
		m.Looked = append(m.Looked, fmt.Sprintf("OCI 1.1 referrers: %d, %d of them attestation bundles", len(idx.Manifests), len(m.Bundles)))
	}
	return m, nil
}

// Statement is one verified in-toto statement.
type Statement struct {
	PredicateType string  `json:"type"`
	Signer        *Signer `json:"signer,omitempty"`
	Format        Format  `json:"format"`
	// Provenance summarises a SLSA provenance predicate.
	Provenance *Provenance `json:"provenance,omitempty"`
	Predicate  any         `json:"-"`
}

// Provenance is what a SLSA provenance says about the build.
type Provenance struct {
	BuilderID        string `json:"builderId,omitempty"`
	SourceRepository string `json:"sourceRepository,omitempty"`
	SourceRef        string `json:"sourceRef,omitempty"`
	SourceCommit     string `json:"sourceCommit,omitempty"`
	BuildType        string `json:"buildType,omitempty"`
}

// AttOutcome is the result of checking one attestation against one
// attestor.
type AttOutcome struct {
	Verified bool
	// Statements are the statements of the required type the attestor
	// signed, checked or not against the conditions.
	Statements []Statement
	// Failure is the condition a statement did not satisfy.
	Failure *conditions.Failure
	Reason  string
	Err     error
}

// CheckAttestation verifies the attestations of m against one attestor
// of att, as Kyverno does (kyverno/kyverno pkg/engine/internal
// imageverifier.go verifyAttestations): the statements the attestor signed
// whose predicateType is att.Type exactly must exist and every one must
// satisfy the conditions. A statement counts only when its subject names
// the digest. Formats follow the verification's type as for signatures:
// type Cosign reads the .att tag, type SigstoreBundle reads bundles; one
// that verifies in the other format fails with the setting that reads it.
func (v *Verifier) CheckAttestation(ctx context.Context, m *AttMaterial, a *policy.Attestor, att *policy.Attestation, now time.Time) (out AttOutcome) {
	defer func() {
		if p := recover(); p != nil {
			out = AttOutcome{Err: fmt.Errorf("verification crashed on this attestation material: %v", p)}
		}
	}()
	vf := att.Verification
	if len(a.Annotations) > 0 {
		return AttOutcome{Reason: fmt.Sprintf("an attestation carries no cosign annotations, and the attestor requires %s", describeAnnotations(a.Annotations))}
	}
	h, err := v1.NewHash(m.Digest.DigestStr())
	if err != nil {
		return AttOutcome{Err: err}
	}
	bundles := vf.Type == "SigstoreBundle"
	read, reasons, err := v.verifiedStatements(ctx, m, h, a, bundles)
	if err != nil {
		return AttOutcome{Err: err}
	}
	if vf.Type == policy.TypeAuto {
		// An ImageValidatingPolicy detects the format: bundles as well.
		more, why, err := v.verifiedStatements(ctx, m, h, a, true)
		if err != nil {
			return AttOutcome{Err: err}
		}
		read, reasons = append(read, more...), append(reasons, why...)
	}
	var matching []Statement
	for _, s := range read {
		if s.PredicateType == att.Type {
			matching = append(matching, s)
		}
	}
	if len(matching) == 0 {
		var other []Statement
		if vf.Type != policy.TypeAuto {
			other, _, _ = v.verifiedStatements(ctx, m, h, a, !bundles)
		}
		for _, s := range other {
			if s.PredicateType == att.Type {
				if bundles {
					return AttOutcome{Reason: fmt.Sprintf("attested (%s) with cosign attest's .att tag; Kyverno with type: SigstoreBundle reads only Sigstore bundles: set type: Cosign", att.Type)}
				}
				return AttOutcome{Reason: fmt.Sprintf("attested (%s) as a Sigstore bundle; Kyverno with type: Cosign reads only the .att tag: set type: SigstoreBundle", att.Type)}
			}
		}
		why := fmt.Sprintf("no attestation of type %s signed by this attestor at %s", att.Type, m.Digest.DigestStr())
		var types []string
		for _, s := range read {
			types = append(types, s.PredicateType)
		}
		if len(types) > 0 {
			why += "; it signed " + strings.Join(dedupeSorted(types), ", ")
			if alias := aliasOf(att.Type, types); alias != "" {
				why += fmt.Sprintf(" (Kyverno compares the type exactly: write type: %s)", alias)
			}
		}
		if len(reasons) > 0 {
			why += "; " + summarize(reasons)
		}
		why += " (looked at: " + strings.Join(m.Looked, "; ") + ")"
		return AttOutcome{Reason: why}
	}
	for _, s := range matching {
		f, err := conditions.Evaluate(att.Conditions, s.Predicate, now)
		if err != nil {
			// Kyverno fails the attestation when a condition cannot be
			// evaluated ("failed to check attestations").
			return AttOutcome{Statements: matching, Reason: fmt.Sprintf("%s: conditions could not be evaluated: %v", att.Type, err)}
		}
		if f != nil {
			return AttOutcome{Statements: matching, Failure: f, Reason: fmt.Sprintf("attestation %s signed by %s: %s", att.Type, s.Signer.String(), f.String())}
		}
	}
	return AttOutcome{Verified: true, Statements: matching}
}

// verifiedStatements are the statements of m signed by the attestor, in
// the bundle or the classic format, with the subject naming the digest.
func (v *Verifier) verifiedStatements(ctx context.Context, m *AttMaterial, h v1.Hash, a *policy.Attestor, bundles bool) ([]Statement, []string, error) {
	co, err := v.checkOpts(a)
	if err != nil {
		return nil, nil, err
	}
	co.Annotations = nil
	var out []Statement
	var reasons []string
	list := append(append([]*sgbundle.Bundle{}, m.Files...), m.GitHub...)
	if bundles {
		list = append(append([]*sgbundle.Bundle{}, m.Bundles...), list...)
	}
	if !bundles {
		co.ClaimVerifier = cosign.IntotoSubjectClaimVerifier
		var readErr error
		for _, sig := range m.Classic {
			if _, _, err := cosign.VerifyImageAttestation(ctx, one{sig: sig}, h, co); err != nil {
				if readFailure(err) {
					readErr = err
					continue
				}
				reasons = append(reasons, attReason(err))
				continue
			}
			p, err := sig.Payload()
			if err != nil {
				return nil, nil, err
			}
			st, err := statementOf(p, true)
			if err != nil {
				reasons = append(reasons, err.Error())
				continue
			}
			if st.Signer, err = signerOf(sig, a); err != nil {
				reasons = append(reasons, err.Error())
				continue
			}
			// cosign checked the subject and issuer; the other identity
			// fields are the gate's to check, for attestations as for
			// signatures.
			if why := identityMismatch(a, st.Signer); why != "" {
				reasons = append(reasons, why)
				continue
			}
			st.Format = FormatClassic
			out = append(out, *st)
		}
		if len(out) == 0 && readErr != nil {
			return nil, nil, readErr
		}
		if len(list) == 0 {
			return out, reasons, nil
		}
		co, err = v.checkOpts(a)
		if err != nil {
			return nil, nil, err
		}
		co.Annotations = nil
	}
	if a.Keyless == nil {
		if len(list) > 0 {
			reasons = append(reasons, "Sigstore bundles are checked against keyless attestors only")
		}
		return out, reasons, nil
	}
	if len(list) == 0 {
		return out, reasons, nil
	}
	base, baseErr := v.bundleTrust(a)
	if baseErr != nil && len(v.githubRoots) == 0 {
		return nil, nil, baseErr
	}
	co.NewBundleFormat = true
	co.ClaimVerifier = nil
	raw, err := hex.DecodeString(h.Hex)
	if err != nil {
		return nil, nil, err
	}
	var trustErr error
	for _, b := range list {
		// Each bundle is verified against the instance that signed it:
		// the gate's trust root, or GitHub's own (private repositories).
		bco, err := v.instanceOpts(co, base, baseErr, b, a)
		if err != nil {
			trustErr = err
			reasons = append(reasons, err.Error())
			continue
		}
		// Kyverno's SigstoreBundle path compares subject and issuer
		// exactly, for attestations as for signatures.
		signer, why := bundleSigner(ctx, bco, sgverify.WithArtifactDigest(h.Algorithm, raw), b, a, true, attReason)
		if why != "" {
			reasons = append(reasons, why)
			continue
		}
		st, err := statementOf(b.GetDsseEnvelope().GetPayload(), false)
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		st.Signer, st.Format = signer, FormatBundle
		out = append(out, *st)
	}
	if len(out) == 0 && trustErr != nil {
		// Trust material is missing for what was found: the gate could
		// not check it, which is an error, not a failure.
		return nil, nil, trustErr
	}
	return out, reasons, nil
}

func attReason(err error) string {
	msg := cleanReason(err)
	msg = strings.TrimPrefix(msg, "no matching attestations: ")
	if strings.Contains(msg, "no matching subject digest") || strings.Contains(msg, "provided artifact digest does not match") {
		return "an attestation signed for another image: its statement's subject does not name this digest"
	}
	return msg
}

// one is a single attestation in the shape cosign's verifier reads. The
// rest of oci.Signatures (the v1.Image of the tag) is never read by
// VerifyImageAttestation, which only calls Get.
type one struct {
	oci.Signatures
	sig oci.Signature
}

func (o one) Get() ([]oci.Signature, error) { return []oci.Signature{o.sig}, nil }

// statementOf decodes an in-toto statement: from a DSSE envelope (the
// .att layer) or raw (a bundle's envelope payload).
func statementOf(p []byte, envelope bool) (*Statement, error) {
	if envelope {
		var env struct {
			PayloadType string `json:"payloadType"`
			Payload     string `json:"payload"`
		}
		if err := json.Unmarshal(p, &env); err != nil {
			return nil, fmt.Errorf("not a DSSE envelope: %w", err)
		}
		if env.PayloadType != ctypes.IntotoPayloadType {
			return nil, fmt.Errorf("DSSE payload type %q is not an in-toto statement", env.PayloadType)
		}
		b, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			return nil, fmt.Errorf("DSSE payload: %w", err)
		}
		p = b
	}
	var st struct {
		PredicateType string `json:"predicateType"`
		Predicate     any    `json:"predicate"`
	}
	if err := json.Unmarshal(p, &st); err != nil {
		return nil, fmt.Errorf("not an in-toto statement: %w", err)
	}
	s := &Statement{PredicateType: st.PredicateType, Predicate: st.Predicate}
	if strings.HasPrefix(st.PredicateType, "https://slsa.dev/provenance/") {
		s.Provenance = provenanceOf(st.Predicate)
	}
	return s, nil
}

// provenanceOf reads the fields users pin from SLSA v1 (GitHub's workflow
// build type) and v0.2 provenance.
func provenanceOf(pred any) *Provenance {
	get := func(path ...any) string {
		cur := pred
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, ok := cur.(map[string]any)
				if !ok {
					return ""
				}
				cur = m[k]
			case int:
				l, ok := cur.([]any)
				if !ok || len(l) <= k {
					return ""
				}
				cur = l[k]
			}
		}
		s, _ := cur.(string)
		return s
	}
	p := &Provenance{
		BuilderID:        get("runDetails", "builder", "id"),
		BuildType:        get("buildDefinition", "buildType"),
		SourceRepository: get("buildDefinition", "externalParameters", "workflow", "repository"),
		SourceRef:        get("buildDefinition", "externalParameters", "workflow", "ref"),
		SourceCommit:     get("buildDefinition", "resolvedDependencies", 0, "digest", "gitCommit"),
	}
	if p.BuilderID == "" { // v0.2
		p.BuilderID = get("builder", "id")
		p.BuildType = get("buildType")
		uri := get("invocation", "configSource", "uri")
		if repo, ref, ok := strings.Cut(strings.TrimPrefix(uri, "git+"), "@"); ok {
			p.SourceRepository, p.SourceRef = repo, ref
		}
		p.SourceCommit = get("invocation", "configSource", "digest", "sha1")
	}
	return p
}

// typeFamilies group the predicate types tools write for one kind of
// statement, with and without a version suffix.
var typeFamilies = []string{
	"https://spdx.dev/Document",
	"https://cyclonedx.org/bom",
	"https://cyclonedx.org/schema",
	"https://openvex.dev/ns",
}

// aliasOf returns a found type that is the same kind of statement as want
// under another spelling (SPDX with a version suffix, CycloneDX bom or
// schema, OpenVEX ns with a version), or "".
func aliasOf(want string, found []string) string {
	fam := func(t string) string {
		for _, f := range typeFamilies {
			if t == f || strings.HasPrefix(t, f+"/") {
				if strings.HasPrefix(f, "https://cyclonedx.org/") {
					return "cyclonedx"
				}
				return f
			}
		}
		return ""
	}
	wf := fam(want)
	if wf == "" {
		return ""
	}
	for _, t := range found {
		if t != want && fam(t) == wf {
			return t
		}
	}
	return ""
}

func dedupeSorted(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range s {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	sort.Strings(out)
	return out
}

// ErrNotASignature marks a bundle that holds an attestation, not a
// signature (see isSignatureBundle).
var ErrNotASignature = errors.New("an in-toto attestation is not a signature")

// bundleKind says whether a bundle is a signature: a message signature, or
// a DSSE envelope whose statement is cosign's signature predicate
// (cosign sign --new-bundle-format). Anything else is an attestation
// signed by someone, which says nothing about whether they signed the
// image; cosign v3.1's verify counts it, the gate does not.
func bundleKind(b *sgbundle.Bundle) (signature bool, predicateType string) {
	if b.GetMessageSignature() != nil {
		return true, ""
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return false, ""
	}
	if env.GetPayloadType() != ctypes.IntotoPayloadType {
		return false, env.GetPayloadType()
	}
	st, err := statementOf(env.GetPayload(), false)
	if err != nil {
		return false, ""
	}
	return st.PredicateType == ctypes.CosignSignPredicateType, st.PredicateType
}
