package verify

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigtuf "github.com/sigstore/sigstore/pkg/tuf"

	"github.com/gitops-gate/gitops-gate/gate/imageref"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/trust"
)

// Format is where a signature was found.
type Format string

const (
	FormatClassic  Format = "classic"  // the sha256-<hex>.sig tag
	FormatReferrer Format = "referrer" // a classic signature stored as an OCI 1.1 referrer
	FormatBundle   Format = "bundle"   // a Sigstore bundle (cosign sign --new-bundle-format)
)

// ErrNoTrustRoot is returned for attestors that need trust material the
// gate was not given.
var ErrNoTrustRoot = errors.New("no trust root configured")

// Signer is who signed, as the verified certificate (or key) says.
type Signer struct {
	Issuer                   string `json:"issuer,omitempty"`
	Subject                  string `json:"subject,omitempty"`
	PublicKey                string `json:"publicKey,omitempty"` // key-signed: the key's SHA-256 fingerprint
	GitHubWorkflowRepository string `json:"githubWorkflowRepository,omitempty"`
	GitHubWorkflowRef        string `json:"githubWorkflowRef,omitempty"`
	GitHubWorkflowSHA        string `json:"githubWorkflowSha,omitempty"`
	GitHubWorkflowTrigger    string `json:"githubWorkflowTrigger,omitempty"`
	GitHubWorkflowName       string `json:"githubWorkflowName,omitempty"`
	SourceRepositoryURI      string `json:"sourceRepositoryURI,omitempty"`
	SourceRepositoryRef      string `json:"sourceRepositoryRef,omitempty"`
	SourceRepositoryDigest   string `json:"sourceRepositoryDigest,omitempty"`
	BuildSignerURI           string `json:"buildSignerURI,omitempty"`
	RunInvocationURI         string `json:"runInvocationURI,omitempty"`
	// RunnerEnvironment is github-hosted or self-hosted (1.3.6.1.4.1.57264.1.11).
	RunnerEnvironment string `json:"runnerEnvironment,omitempty"`
}

// String is "subject (issuer)" or the key fingerprint.
func (s *Signer) String() string {
	if s == nil {
		return ""
	}
	if s.PublicKey != "" {
		return "key " + s.PublicKey
	}
	return s.Subject + " (" + s.Issuer + ")"
}

// Tlog is the transparency-log entry that proves when the image was signed.
type Tlog struct {
	LogIndex       int64     `json:"logIndex"`
	IntegratedTime time.Time `json:"integratedTime"`
}

// DefaultMaxSignatures bounds the signatures, and separately the OCI 1.1
// referrers, the gate examines per digest. Kyverno examines at most 50
// referrers and refuses more (kyverno/kyverno
// pkg/image/verifiers/cpol/cosign/sigstore.go attestationlimit, and
// pkg/image/verifiers/cpol/notary/notary.go maxReferrersCount: "too many
// referrers found, max limit is 50"). Anyone who can push to a repository
// can attach signatures to its digests; without a bound each one costs a
// request and a verification.
const DefaultMaxSignatures = 50

// ErrTooManySignatures is returned by Fetch when a digest carries more
// signatures or referrers than the gate examines: the gate cannot decide,
// which is an error verdict, never a pass or a fail.
var ErrTooManySignatures = errors.New("too many signatures to examine")

// Options configure a Verifier.
type Options struct {
	// Trusted is the trust root (Fulcio CAs, CT logs, Rekor logs). When nil,
	// TrustErr says why; attestors that need it then end in an error.
	Trusted  root.TrustedMaterial
	TrustErr error
	Registry *registry.Resolver
	// MaxSignatures bounds the signatures in the .sig tag, the OCI 1.1
	// referrers, and the signatures they hold, per digest (default
	// DefaultMaxSignatures).
	MaxSignatures int
	// Bundles are Sigstore bundles given on the command line (check
	// --bundle, as cosign verify --bundle). Each is offered to every image
	// and verifies only for the digest it signs or attests; a rule of
	// either type reads them (they were given explicitly, though admission
	// will not see them).
	Bundles []*sgbundle.Bundle
	// GitHub, when set, is also asked for the attestations of each digest
	// (GitHub artifact attestations; read whatever the rule's type, as
	// bundle files are: admission does not see them).
	GitHub AttestationSource
	// GitHubRoots are the trusted roots of `gh attestation trusted-root`:
	// a bundle whose certificate one of their CAs issued is verified
	// against that root (GitHub's own instance: signed timestamps, no
	// Rekor); a bundle of GitHub's instance without one is not verified.
	GitHubRoots []*root.TrustedRoot
	// PublicGoodLogIDs are the hex log IDs (SHA-256 of the public key) of
	// Rekor logs that make a trust root public-good Sigstore's, for
	// attestors whose policy names public-good's TUF repository
	// (policy.Attestor.PublicGoodTUF). Default: rekor.sigstore.dev's.
	PublicGoodLogIDs []string
}

// Verifier checks signatures. It is safe for concurrent use.
type Verifier struct {
	trusted     root.TrustedMaterial
	trustErr    error
	reg         *registry.Resolver
	max         int
	files       []*sgbundle.Bundle
	source      AttestationSource
	githubRoots []*root.TrustedRoot
	publicGood  []string
	// roots are the policies' inline trusted roots, parsed once each.
	roots sync.Map // string (the JSON) → *root.TrustedRoot
}

// New builds a Verifier.
func New(o Options) (*Verifier, error) {
	if o.Registry == nil {
		return nil, errors.New("verify: a registry resolver is required")
	}
	if o.Trusted == nil && o.TrustErr == nil {
		o.TrustErr = ErrNoTrustRoot
	}
	if o.MaxSignatures <= 0 {
		o.MaxSignatures = DefaultMaxSignatures
	}
	if len(o.PublicGoodLogIDs) == 0 {
		o.PublicGoodLogIDs = []string{PublicGoodRekorLogID}
	}
	return &Verifier{trusted: o.Trusted, trustErr: o.TrustErr, reg: o.Registry, max: o.MaxSignatures, files: o.Bundles,
		source: o.GitHub, githubRoots: o.GitHubRoots, publicGood: o.PublicGoodLogIDs}, nil
}

// Material is every signature found for one digest, by where it was found.
type Material struct {
	Digest name.Digest
	// Classic are the signatures of the sha256-<hex>.sig tag.
	Classic []oci.Signature
	// Referrers are classic signatures stored as OCI 1.1 referrers
	// (cosign sign --registry-referrers-mode=oci-1-1).
	Referrers []oci.Signature
	// Bundles are Sigstore bundles attached as referrers
	// (cosign sign --new-bundle-format).
	Bundles []*sgbundle.Bundle
	// Files are the bundles given on the command line (--bundle).
	Files []*sgbundle.Bundle
	// Looked says where the gate looked, for the reason when nothing is
	// found: "no .sig tag, …".
	Looked []string
}

// Empty reports that nothing cosign could have written was found.
func (m *Material) Empty() bool {
	return len(m.Classic) == 0 && len(m.Referrers) == 0 && len(m.Bundles) == 0 && len(m.Files) == 0
}

// remoteOptions are the registry options for fetching signatures or
// attestations of an image, stored in repository when it is set. The
// repository goes through the image's own normaliser: "localhost/sigs" is
// the registry localhost.
func (v *Verifier) remoteOptions(ctx context.Context, loc Location, what string) ([]ociremote.Option, *name.Repository, error) {
	opts := []ociremote.Option{ociremote.WithRemoteOptions(v.reg.RemoteOptions(ctx)...)}
	if loc.TagPrefix != "" {
		// cosign's COSIGN_REPOSITORY tag prefix: <prefix>sha256-<hex>.sig
		// and .att. Referrers are found by digest, without it.
		opts = append(opts, ociremote.WithPrefix(loc.TagPrefix))
	}
	if loc.Repository == "" {
		return opts, nil, nil
	}
	repo, err := imageref.ParseRepository(loc.Repository)
	if err != nil {
		return nil, nil, fmt.Errorf("%s repository %q: %w", what, loc.Repository, err)
	}
	return append(opts, ociremote.WithTargetRepository(repo)), &repo, nil
}

// Location is where an attestor's signatures and attestations are stored:
// Repository instead of the image's own (empty: the image's), and
// TagPrefix before cosign's sha256-<hex>.sig and .att tags.
type Location struct {
	Repository string
	TagPrefix  string
}

// Fetch is FetchAt with signatures in repository, under cosign's own tags.
func (v *Verifier) Fetch(ctx context.Context, digest name.Digest, repository string, referrers bool) (*Material, error) {
	return v.FetchAt(ctx, digest, Location{Repository: repository}, referrers)
}

// FetchAt collects the signatures of digest: the .sig tag first (the common
// case, two requests), then OCI 1.1 referrers (bundles and referrer
// signatures) when the tag has none or referrers is true. loc says where
// the signatures are stored when not in the image's repository and tags.
// More signatures or referrers than the verifier examines is
// ErrTooManySignatures.
func (v *Verifier) FetchAt(ctx context.Context, digest name.Digest, loc Location, referrers bool) (*Material, error) {
	opts, target, err := v.remoteOptions(ctx, loc, "signature")
	if err != nil {
		return nil, err
	}
	m := &Material{Digest: digest, Files: v.files}
	st, err := ociremote.SignatureTag(digest, opts...)
	if err != nil {
		return nil, err
	}
	sigs, err := ociremote.Signatures(st, opts...)
	if err == nil {
		m.Classic, err = sigs.Get()
		m.Classic = memoize(m.Classic)
	}
	if err != nil && !notFound(err) {
		return nil, fmt.Errorf("fetching signatures of %s: %w", digest.DigestStr(), err)
	}
	if len(m.Classic) > v.max {
		return nil, fmt.Errorf("%w: the signature tag of %s holds %d signatures, more than the %d the gate examines per digest", ErrTooManySignatures, digest.DigestStr(), len(m.Classic), v.max)
	}
	if len(m.Classic) == 0 {
		m.Looked = append(m.Looked, "no .sig tag ("+st.TagStr()+")")
	}
	if len(m.Classic) > 0 && !referrers {
		return m, nil
	}
	fallback := strings.Replace(digest.DigestStr(), ":", "-", 1)
	idx, err := ociremote.Referrers(digest, "", opts...)
	if err != nil {
		if notFound(err) {
			m.Looked = append(m.Looked, "referrers API 404, fallback tag "+fallback+" absent")
			return m, nil // a registry without the referrers API holds no referrers
		}
		return nil, fmt.Errorf("listing referrers of %s: %w", digest.DigestStr(), err)
	}
	if len(idx.Manifests) == 0 {
		m.Looked = append(m.Looked, v.whereReferrers(ctx, st.Repository, fallback))
	}
	if len(idx.Manifests) > v.max {
		return nil, fmt.Errorf("%w: %s has %d OCI referrers, more than the %d the gate examines per digest", ErrTooManySignatures, digest.DigestStr(), len(idx.Manifests), v.max)
	}
	for _, desc := range idx.Manifests {
		ref := digest.Context().Digest(desc.Digest.String())
		if target != nil {
			ref = target.Digest(desc.Digest.String())
		}
		if b, err := ociremote.Bundle(ref, opts...); err == nil {
			m.Bundles = append(m.Bundles, b)
			continue
		}
		if s, err := ociremote.Signatures(ref, opts...); err == nil {
			if list, err := s.Get(); err == nil && len(list) > 0 && list[0] != nil {
				if mt, _ := list[0].MediaType(); strings.Contains(string(mt), "simplesigning") {
					m.Referrers = append(m.Referrers, memoize(list)...)
				}
			}
		}
		if len(m.Referrers) > v.max {
			return nil, fmt.Errorf("%w: the OCI referrers of %s hold more than the %d signatures the gate examines per digest", ErrTooManySignatures, digest.DigestStr(), v.max)
		}
	}
	return m, nil
}

// whereReferrers says why no referrer was found: go-containerregistry
// reads the fallback tag only when the referrers API answers 404, so an
// empty answer with no tag means "API 404 or empty, tag absent", and a tag
// that exists beside an empty API answer was not read.
func (v *Verifier) whereReferrers(ctx context.Context, repo name.Repository, fallback string) string {
	_, err := remote.Head(repo.Tag(fallback), v.reg.RemoteOptions(ctx)...)
	switch {
	case err == nil:
		return "referrers API: none (fallback tag " + fallback + " exists but a registry with the referrers API is not read through it)"
	case notFound(err):
		return "no OCI 1.1 referrers (referrers API 404 or empty, fallback tag " + fallback + " absent)"
	default:
		return "no OCI 1.1 referrers (fallback tag " + fallback + ": " + shortReason(err) + ")"
	}
}

func shortReason(err error) string {
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120] + "…"
	}
	return msg
}

// memoize keeps each signature's payload once fetched: cosign reads it
// several times per check (signature, claims), and every read of a remote
// layer is another registry request.
func memoize(sigs []oci.Signature) []oci.Signature {
	out := make([]oci.Signature, len(sigs))
	for i, s := range sigs {
		out[i] = &payloadOnce{ociSignature: s}
	}
	return out
}

// ociSignature names the embedded interface so that its field does not
// shadow the interface's own Signature method.
type ociSignature = oci.Signature

type payloadOnce struct {
	ociSignature
	once    sync.Once
	payload []byte
	err     error
}

func (p *payloadOnce) Payload() ([]byte, error) {
	p.once.Do(func() { p.payload, p.err = p.ociSignature.Payload() })
	return p.payload, p.err
}

func notFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode == http.StatusNotFound
	}
	var re *registry.Error
	return errors.As(err, &re) && re.NotFound()
}

// Outcome is the result of checking one attestor.
type Outcome struct {
	Verified bool
	Signer   *Signer
	Tlog     *Tlog
	Format   Format
	// Timestamp is the signing time proven by a trusted RFC 3161 timestamp,
	// used when the policy ignores the transparency log.
	Timestamp *time.Time
	// Reason says, in one line, why the attestor is not satisfied.
	Reason string
	// Found is, when the attestor is not satisfied because a signature's
	// certificate (its chain verified) names another identity, that
	// identity: what the page shows beside the one expected.
	Found *Signer
	// Err is set when the check could not be made (trust root missing,
	// malformed material): the verdict is an error, not a failure.
	Err error
}

// Check verifies the material against one attestor. It makes no requests.
//
// It reads the formats Kyverno reads with this verification, and only
// those, because the check exists to predict admission (kyverno/kyverno
// pkg/image/verifiers/cpol/cosign/verifier.go VerifySignature): type
// Cosign reads the .sig tag through cosign's VerifyImageSignatures, which
// also reads OCI 1.1 referrer signatures with cosignOCI11
// (ExperimentalOCI11, cosign.go buildCosignOptions) and never Sigstore
// bundles; type SigstoreBundle reads only bundles from the referrers
// (sigstore.go fetchBundles). A valid signature in a format the
// verification does not read fails, with the setting that would let
// Kyverno find it.
func (v *Verifier) Check(ctx context.Context, m *Material, a *policy.Attestor, vf *policy.Verification) (out Outcome) {
	defer func() {
		// cosign runs on hostile input; a panic here must cost one verdict,
		// not the process.
		if p := recover(); p != nil {
			out = Outcome{Err: fmt.Errorf("verification crashed on this signature material: %v", p)}
		}
	}()
	co, err := v.checkOpts(a)
	if err != nil {
		return Outcome{Err: err}
	}
	if m.Empty() {
		why := "no signatures found at " + m.Digest.DigestStr()
		if len(m.Looked) > 0 {
			why += ": " + strings.Join(m.Looked, ", ")
		}
		return Outcome{Reason: why}
	}
	h, err := v1.NewHash(m.Digest.DigestStr())
	if err != nil {
		return Outcome{Err: err}
	}
	read, unread := split(m, vf)
	o, reasons, found, readErr := v.checkFound(ctx, read, h, a, co, vf.Type == "SigstoreBundle")
	if o != nil {
		return *o
	}
	var unreadReasons []string
	if !unread.Empty() {
		uo, why, _, _ := v.checkFound(ctx, unread, h, a, co, false)
		if uo != nil && uo.Verified {
			return Outcome{Reason: unreadReason(uo.Format, vf)}
		}
		unreadReasons = why
	}
	if readErr != nil {
		return Outcome{Err: readErr}
	}
	if len(reasons) == 0 {
		switch {
		case vf.Type == "SigstoreBundle":
			return Outcome{Reason: "no Sigstore bundle found at " + m.Digest.DigestStr() + " (type: SigstoreBundle reads only bundles)"}
		case read.Empty():
			reads := "the .sig tag"
			if vf.CosignOCI11 {
				reads += " and OCI 1.1 referrer signatures"
			}
			why := "no signature that Kyverno with this verification reads found at " + m.Digest.DigestStr() + " (type: Cosign reads " + reads + ")"
			if len(unreadReasons) > 0 {
				why += "; the other signatures found do not verify either: " + summarize(unreadReasons)
			}
			return Outcome{Reason: why}
		default:
			return Outcome{Reason: "no signatures this attestor can check at " + m.Digest.DigestStr()}
		}
	}
	return Outcome{Reason: summarize(reasons), Found: found}
}

// split separates the material a verification reads from the rest.
func split(m *Material, vf *policy.Verification) (read, unread *Material) {
	read, unread = &Material{Digest: m.Digest}, &Material{Digest: m.Digest}
	if vf.Type == policy.TypeAuto {
		// An ImageValidatingPolicy detects the format: it reads all.
		read.Classic, read.Referrers = m.Classic, m.Referrers
		read.Bundles = append(append([]*sgbundle.Bundle{}, m.Bundles...), m.Files...)
		return read, unread
	}
	if vf.Type == "SigstoreBundle" {
		read.Bundles = append(append([]*sgbundle.Bundle{}, m.Bundles...), m.Files...)
		unread.Classic, unread.Referrers = m.Classic, m.Referrers
		return read, unread
	}
	read.Classic = m.Classic
	read.Bundles = m.Files
	unread.Bundles = m.Bundles
	if vf.CosignOCI11 {
		read.Referrers = m.Referrers
	} else {
		unread.Referrers = m.Referrers
	}
	return read, unread
}

// unreadReason says why a valid signature does not count, and what makes
// Kyverno read it.
func unreadReason(f Format, vf *policy.Verification) string {
	switch {
	case f == FormatBundle:
		return "signed as a Sigstore bundle; Kyverno with type: Cosign will not find it: set type: SigstoreBundle"
	case vf.Type == "SigstoreBundle" && f == FormatReferrer:
		return "signed with a classic cosign signature stored as an OCI 1.1 referrer; Kyverno with type: SigstoreBundle will not find it: set type: Cosign and cosignOCI11: true"
	case vf.Type == "SigstoreBundle":
		return "signed with a classic cosign signature (the .sig tag); Kyverno with type: SigstoreBundle will not find it: set type: Cosign"
	default:
		return "signed with a classic cosign signature stored as an OCI 1.1 referrer; Kyverno with type: Cosign reads referrers only with cosignOCI11: set cosignOCI11: true"
	}
}

// checkFound verifies found material against an attestor: a verified
// outcome, or the reasons none verified and the last read failure.
// exactBundles applies Kyverno's SigstoreBundle identity rule to bundles.
func (v *Verifier) checkFound(ctx context.Context, m *Material, h v1.Hash, a *policy.Attestor, co *cosign.CheckOpts, exactBundles bool) (_ *Outcome, _ []string, found *Signer, _ error) {
	var reasons []string
	var readErr error
	for _, src := range []struct {
		sigs   []oci.Signature
		format Format
	}{{m.Classic, FormatClassic}, {m.Referrers, FormatReferrer}} {
		for _, sig := range src.sigs {
			sco, tsTime, tsProblem := timestampOpts(sig, co)
			if _, err := cosign.VerifyImageSignature(ctx, sig, h, sco); err != nil {
				if readFailure(err) {
					// The signature could not be read (its layer is fetched
					// lazily). Another may still verify; if none does, the
					// gate cannot tell, which is an error to retry, not a
					// verdict against the image.
					readErr = err
					continue
				}
				reason := cleanReason(err)
				if found == nil && strings.HasPrefix(reason, "signed by another identity") {
					found, _ = signerOf(sig, a)
				}
				if tsProblem != "" {
					reason += " (" + tsProblem + ")"
				}
				reasons = append(reasons, reason)
				continue
			}
			signer, err := signerOf(sig, a)
			if err != nil {
				reasons = append(reasons, err.Error())
				continue
			}
			if why := identityMismatch(a, signer); why != "" {
				reasons = append(reasons, why)
				if found == nil {
					found = signer
				}
				continue
			}
			o := Outcome{Verified: true, Signer: signer, Format: src.format, Timestamp: tsTime}
			if b, err := sig.Bundle(); err == nil && b != nil {
				o.Tlog = &Tlog{LogIndex: b.Payload.LogIndex, IntegratedTime: time.Unix(b.Payload.IntegratedTime, 0).UTC()}
			}
			return &o, nil, nil, nil
		}
	}
	if a.Keyless != nil && len(m.Bundles) > 0 {
		o, why := v.checkBundles(ctx, m, h, a, exactBundles)
		if o != nil {
			return o, nil, nil, nil
		}
		reasons = append(reasons, why...)
	}
	return nil, reasons, found, readErr
}

// timestampOpts decides whether a signature's RFC 3161 timestamp may serve
// as its signing time: only when the policy ignores the transparency log,
// and only once the timestamp verified against the trust root's timestamp
// authorities. cosign v2.6.5 indexes an empty slice when none verifies; the
// check runs here, in the caller's goroutine, where that panic is recovered
// and the timestamp simply not used.
func timestampOpts(sig oci.Signature, co *cosign.CheckOpts) (*cosign.CheckOpts, *time.Time, string) {
	if !co.IgnoreTlog || co.TrustedMaterial == nil {
		return co, nil, ""
	}
	if ts, err := sig.RFC3161Timestamp(); err != nil || ts == nil {
		return co, nil, ""
	}
	t, err := func() (t *time.Time, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = errors.New("no trusted timestamp authority signed it")
			}
		}()
		ts, err := cosign.VerifyRFC3161Timestamp(sig, co)
		if err != nil || ts == nil {
			return nil, err
		}
		tt := ts.Time.UTC()
		return &tt, nil
	}()
	if err != nil || t == nil {
		return co, nil, fmt.Sprintf("its RFC 3161 timestamp was not used: %v", err)
	}
	c := *co
	c.UseSignedTimestamps = true
	return &c, t, ""
}

// checkBundles verifies Sigstore bundles against a keyless attestor. With
// exact, a verified signer must also pass Kyverno's SigstoreBundle identity
// check, which compares subject and issuer exactly: Kyverno hands them to
// sigstore-go's NewShortCertificateIdentity (kyverno/kyverno
// pkg/image/verifiers/cpol/cosign/sigstore.go buildPolicy), whose matchers
// test equality, so a wildcard there never matches.
func (v *Verifier) checkBundles(ctx context.Context, m *Material, h v1.Hash, a *policy.Attestor, exact bool) (*Outcome, []string) {
	if len(a.Annotations) > 0 {
		// cosign's annotations live in the simple-signing payload a bundle
		// does not have: a bundle cannot carry what the attestor requires.
		// (Kyverno's SigstoreBundle path does not check annotations at all;
		// the gate does not let the format waive them.)
		return nil, []string{fmt.Sprintf("a Sigstore bundle carries no cosign annotations, and the attestor requires %s", describeAnnotations(a.Annotations))}
	}
	co, err := v.checkOpts(a)
	if err != nil {
		return &Outcome{Err: err}, nil
	}
	base, baseErr := v.bundleTrust(a)
	if baseErr != nil && len(v.githubRoots) == 0 {
		return &Outcome{Err: baseErr}, nil
	}
	co.NewBundleFormat = true
	co.ClaimVerifier = nil // the artifact digest policy binds the bundle to the digest
	raw, err := hex.DecodeString(h.Hex)
	if err != nil {
		return &Outcome{Err: err}, nil
	}
	var reasons []string
	var trustErr error
	for _, b := range m.Bundles {
		if ok, pt := bundleKind(b); !ok {
			// A signature rule asks "did this identity sign the image"; an
			// attestation it signed answers another question.
			reasons = append(reasons, fmt.Sprintf("%v: a Sigstore bundle holding an in-toto attestation (%s) does not count as a signature", ErrNotASignature, pt))
			continue
		}
		// As for attestations: the instance that issued the certificate.
		bco, err := v.instanceOpts(co, base, baseErr, b, a)
		if err != nil {
			trustErr = err
			continue
		}
		signer, why := bundleSigner(ctx, bco, sgverify.WithArtifactDigest(h.Algorithm, raw), b, a, exact, cleanReason)
		if why != "" {
			reasons = append(reasons, why)
			continue
		}
		o := &Outcome{Verified: true, Signer: signer, Format: FormatBundle}
		if entries, err := b.TlogEntries(); err == nil && len(entries) > 0 {
			o.Tlog = &Tlog{LogIndex: entries[0].LogIndex(), IntegratedTime: entries[0].IntegratedTime().UTC()}
		}
		return o, nil
	}
	if trustErr != nil {
		return &Outcome{Err: trustErr}, nil
	}
	return nil, reasons
}

// bundleSigner verifies one Sigstore bundle against the artifact policy
// (the image digest) and the attestor, for signatures and attestations
// alike, and returns its signer, or why the bundle does not count. exact
// adds Kyverno's SigstoreBundle comparison of subject and issuer.
func bundleSigner(ctx context.Context, co *cosign.CheckOpts, artifact sgverify.ArtifactPolicyOption, b *sgbundle.Bundle, a *policy.Attestor, exact bool, reason func(error) string) (*Signer, string) {
	vr, err := cosign.VerifyNewBundle(ctx, co, artifact, b)
	if err != nil {
		return nil, reason(err)
	}
	signer := &Signer{}
	if vr.Signature != nil && vr.Signature.Certificate != nil {
		fillSigner(signer, *vr.Signature.Certificate)
	}
	if why := identityMismatch(a, signer); why != "" {
		return nil, why
	}
	if exact {
		if why := exactIdentityMismatch(a.Keyless, signer); why != "" {
			return nil, why
		}
	}
	return signer, ""
}

// exactIdentityMismatch says why Kyverno's SigstoreBundle path refuses a
// signer the wildcard reading accepts, or "".
func exactIdentityMismatch(k *policy.Keyless, s *Signer) string {
	// Kyverno sets an identity only when both an issuer and a subject (or
	// their regexps) are given; the gate never accepts an attestor without
	// one, so the exact comparison is what remains to predict.
	for _, f := range []struct{ field, want, got, regexpField string }{
		{"subject", k.Subject, s.Subject, "subjectRegExp"},
		{"issuer", k.Issuer, s.Issuer, "issuerRegExp"},
	} {
		if f.want == "" || f.want == f.got {
			continue
		}
		why := fmt.Sprintf("signed by %s, and Kyverno with type: SigstoreBundle compares %s exactly: %q is not %q", s.String(), f.field, f.got, f.want)
		if strings.ContainsAny(f.want, "*?") {
			why += fmt.Sprintf(" (a wildcard never matches there: write %s)", f.regexpField)
		}
		return why
	}
	return ""
}

func describeAnnotations(m map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// checkOpts is cosign's production configuration for one attestor.
func (v *Verifier) checkOpts(a *policy.Attestor) (*cosign.CheckOpts, error) {
	co := &cosign.CheckOpts{
		ClaimVerifier: cosign.SimpleClaimVerifier,
		Offline:       true,
	}
	if len(a.Annotations) > 0 {
		co.Annotations = map[string]interface{}{}
		for k, val := range a.Annotations {
			co.Annotations[k] = val
		}
	}
	hash := crypto.SHA256
	switch a.SignatureAlgorithm {
	case "sha224":
		hash = crypto.SHA224
	case "sha384":
		hash = crypto.SHA384
	case "sha512":
		hash = crypto.SHA512
	}
	var rekor policy.Rekor
	var ct policy.CTLog
	var roots string
	switch {
	case a.Keyless != nil:
		k := a.Keyless
		rekor, ct, roots = k.Rekor, k.CTLog, k.Roots
		co.Identities = []cosign.Identity{identityOf(k)}
	case a.Key != nil:
		rekor, ct = a.Key.Rekor, a.Key.CTLog
		pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(a.Key.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("%s: public key: %w", a.Path, err)
		}
		if co.SigVerifier, err = signature.LoadVerifier(pub, hash); err != nil {
			return nil, fmt.Errorf("%s: public key: %w", a.Path, err)
		}
		co.IgnoreSCT = true // no certificate, no SCT
	case a.Certificate != nil:
		c := a.Certificate
		rekor, ct = c.Rekor, c.CTLog
		if strings.TrimSpace(c.Cert) != "" {
			certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(c.Cert))
			if err != nil || len(certs) == 0 {
				return nil, fmt.Errorf("%s: cert: not a PEM certificate", a.Path)
			}
			if strings.TrimSpace(c.CertChain) != "" {
				if err := verifyChain(certs[0], c.CertChain); err != nil {
					return nil, fmt.Errorf("%s: cert does not chain to certChain: %w", a.Path, err)
				}
			}
			if co.SigVerifier, err = signature.LoadVerifier(certs[0].PublicKey, hash); err != nil {
				return nil, fmt.Errorf("%s: cert: %w", a.Path, err)
			}
			co.IgnoreSCT = true
		} else {
			roots = c.CertChain // a chain alone is a private CA: any certificate it issued
		}
	}
	co.IgnoreTlog = rekor.IgnoreTlog
	co.IgnoreSCT = co.IgnoreSCT || ct.IgnoreSCT
	if co.SigVerifier != nil && co.IgnoreTlog && a.Keyless == nil {
		// A key and no log: nothing else to trust (Kyverno, like cosign,
		// then reads no TUF repository either).
		return co, nil
	}
	trusted, trustErr := v.trustFor(a)
	var hard *TrustRootError
	if errors.As(trustErr, &hard) {
		return nil, trustErr // what the policy names cannot be had: never another root
	}
	inline := strings.TrimSpace(roots) != "" || strings.TrimSpace(rekor.PubKey) != "" || strings.TrimSpace(ct.PubKey) != ""
	if !inline {
		if trusted == nil {
			return nil, fmt.Errorf("%s needs a trust root (Fulcio and Rekor keys): %w", a.Path, trustErr)
		}
		co.TrustedMaterial = trusted
		return co, nil
	}
	return co, legacyTrust(co, trusted, trustErr, a.Path, roots, rekor.PubKey, ct.PubKey)
}

// PublicGoodRekorLogID is the log ID of rekor.sigstore.dev, public-good
// Sigstore's Rekor log (the SHA-256 of its public key, as trusted_root.json
// names it): a trust root holding it is public-good's.
const PublicGoodRekorLogID = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"

// TrustRootError says that the trust root an attestor's policy names
// cannot be used: an inline trusted root that does not parse, or
// public-good's TUF repository while the gate's trust root is another.
// It is an error verdict, whatever else the policy gives inline.
type TrustRootError struct{ Err error }

func (e *TrustRootError) Error() string { return e.Err.Error() }
func (e *TrustRootError) Unwrap() error { return e.Err }

// trustFor is the trust material an attestor verifies against: the
// trusted root its policy gives inline, else the gate's own (checked to be
// public-good's when the policy names public-good's TUF repository); or
// why there is none.
func (v *Verifier) trustFor(a *policy.Attestor) (root.TrustedMaterial, error) {
	if a.TrustedRoot != "" {
		if tr, ok := v.roots.Load(a.TrustedRoot); ok {
			return tr.(*root.TrustedRoot), nil
		}
		tr, err := trust.Parse(a.Path+": trustedRoot", []byte(a.TrustedRoot))
		if err != nil {
			return nil, &TrustRootError{Err: err}
		}
		v.roots.Store(a.TrustedRoot, tr)
		return tr, nil
	}
	if v.trusted == nil {
		return nil, v.trustErr
	}
	if a.PublicGoodTUF && !holdsLog(v.trusted, v.publicGood) {
		return nil, &TrustRootError{Err: fmt.Errorf("%s: the policy's tuf names public-good Sigstore's TUF repository, and the gate's trust root is not public-good's (it holds no rekor.sigstore.dev log); the gate fetches no TUF repository and never verifies against another root than the policy names: run the gate with --tuf, or --trusted-root with public-good's trusted_root.json, or give the policy's trusted root inline (trustedRoot.value)", a.Path)}
	}
	return v.trusted, nil
}

// holdsLog reports that trusted holds one of the Rekor logs ids.
func holdsLog(trusted root.TrustedMaterial, ids []string) bool {
	logs := trusted.RekorLogs()
	for _, id := range ids {
		if _, ok := logs[id]; ok {
			return true
		}
	}
	return false
}

// legacyTrust fills cosign's explicit trust fields from a policy's inline
// PEMs, taking what the policy does not give from the gate's trust root.
func legacyTrust(co *cosign.CheckOpts, trusted root.TrustedMaterial, trustErr error, path, roots, rekorPub, ctPub string) error {
	need := func(what string) error {
		return fmt.Errorf("%s: %s is neither in the policy nor in a trust root: %w", path, what, trustErr)
	}
	if co.SigVerifier == nil {
		pool := x509.NewCertPool()
		inter := x509.NewCertPool()
		switch {
		case strings.TrimSpace(roots) != "":
			certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(roots))
			if err != nil {
				return fmt.Errorf("%s: roots: %w", path, err)
			}
			for _, c := range certs {
				if isSelfSigned(c) {
					pool.AddCert(c)
				} else {
					inter.AddCert(c)
				}
			}
		case trusted != nil:
			for _, ca := range trusted.FulcioCertificateAuthorities() {
				if f, ok := ca.(*root.FulcioCertificateAuthority); ok {
					pool.AddCert(f.Root)
					for _, i := range f.Intermediates {
						inter.AddCert(i)
					}
				}
			}
		default:
			return need("the Fulcio root")
		}
		co.RootCerts, co.IntermediateCerts = pool, inter
	}
	if !co.IgnoreTlog {
		keys := cosign.NewTrustedTransparencyLogPubKeys()
		switch {
		case strings.TrimSpace(rekorPub) != "":
			if err := keys.AddTransparencyLogPubKey([]byte(rekorPub), sigtuf.Active); err != nil {
				return fmt.Errorf("%s: rekor.pubkey: %w", path, err)
			}
		case trusted != nil:
			if err := addLogKeys(&keys, trusted.RekorLogs()); err != nil {
				return err
			}
		default:
			return need("the Rekor public key")
		}
		co.RekorPubKeys = &keys
	}
	if !co.IgnoreSCT && co.SigVerifier == nil {
		keys := cosign.NewTrustedTransparencyLogPubKeys()
		switch {
		case strings.TrimSpace(ctPub) != "":
			if err := keys.AddTransparencyLogPubKey([]byte(ctPub), sigtuf.Active); err != nil {
				return fmt.Errorf("%s: ctlog.pubkey: %w", path, err)
			}
		case trusted != nil:
			if err := addLogKeys(&keys, trusted.CTLogs()); err != nil {
				return err
			}
		default:
			return need("the CT log public key")
		}
		co.CTLogPubKeys = &keys
	}
	return nil
}

func addLogKeys(keys *cosign.TrustedTransparencyLogPubKeys, logs map[string]*root.TransparencyLog) error {
	for _, l := range logs {
		p, err := cryptoutils.MarshalPublicKeyToPEM(l.PublicKey)
		if err != nil {
			return err
		}
		if err := keys.AddTransparencyLogPubKey(p, sigtuf.Active); err != nil {
			return err
		}
	}
	return nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil
}

func verifyChain(leaf *x509.Certificate, chainPEM string) error {
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(chainPEM))
	if err != nil {
		return err
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range certs {
		if isSelfSigned(c) {
			roots.AddCert(c)
		} else {
			inter.AddCert(c)
		}
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: leaf.NotBefore,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// identityOf turns Kyverno's identity fields into cosign's: wildcards become
// whole-string regular expressions, Kyverno's regexps stay as written
// (unanchored, as Kyverno uses them).
func identityOf(k *policy.Keyless) cosign.Identity {
	var id cosign.Identity
	switch {
	case k.IssuerRegExp != "":
		id.IssuerRegExp = k.IssuerRegExp
	case k.Issuer != "":
		id.IssuerRegExp = wildcardRegexp(k.Issuer)
	}
	switch {
	case k.SubjectRegExp != "":
		id.SubjectRegExp = k.SubjectRegExp
	case k.Subject != "":
		id.SubjectRegExp = wildcardRegexp(k.Subject)
	}
	return id
}

func wildcardRegexp(w string) string {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range w {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return b.String()
}

func signerOf(sig oci.Signature, a *policy.Attestor) (*Signer, error) {
	cert, err := sig.Cert()
	if err != nil {
		return nil, err
	}
	if cert == nil {
		s := &Signer{}
		if a.Key != nil {
			if pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(a.Key.PublicKey)); err == nil {
				if der, err := x509.MarshalPKIXPublicKey(pub); err == nil {
					s.PublicKey = "SHA256:" + hex.EncodeToString(sha256Sum(der))[:16]
				}
			}
		}
		return s, nil
	}
	sum, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return nil, fmt.Errorf("reading the signing certificate: %w", err)
	}
	s := &Signer{}
	fillSigner(s, sum)
	return s, nil
}

func fillSigner(s *Signer, sum certificate.Summary) {
	e := sum.Extensions
	s.Issuer = e.Issuer
	s.Subject = sum.SubjectAlternativeName
	s.GitHubWorkflowRepository = e.GithubWorkflowRepository
	s.GitHubWorkflowRef = e.GithubWorkflowRef
	s.GitHubWorkflowSHA = e.GithubWorkflowSHA
	s.GitHubWorkflowTrigger = e.GithubWorkflowTrigger
	s.GitHubWorkflowName = e.GithubWorkflowName
	s.SourceRepositoryURI = e.SourceRepositoryURI
	s.SourceRepositoryRef = e.SourceRepositoryRef
	s.SourceRepositoryDigest = e.SourceRepositoryDigest
	s.BuildSignerURI = e.BuildSignerURI
	s.RunInvocationURI = e.RunInvocationURI
	s.RunnerEnvironment = e.RunnerEnvironment
}

// identityMismatch checks what a verified certificate must say beyond its
// subject and issuer: Kyverno's additionalExtensions and gh attestation
// verify's checks. It returns why not, or "".
func identityMismatch(a *policy.Attestor, s *Signer) string {
	if why := extensionMismatch(a, s); why != "" {
		return why
	}
	if a.Keyless != nil {
		return githubMismatch(a.Keyless.GitHub, s)
	}
	return ""
}

// extensionMismatch checks Kyverno's additionalExtensions (wildcards) on a
// verified signer; it returns why not, or "".
func extensionMismatch(a *policy.Attestor, s *Signer) string {
	if a.Keyless == nil {
		return ""
	}
	for _, key := range sortedKeys(a.Keyless.AdditionalExtensions) {
		want := a.Keyless.AdditionalExtensions[key]
		var got string
		switch key {
		case "oidcIssuer":
			got = s.Issuer
		case "githubWorkflowTrigger":
			got = s.GitHubWorkflowTrigger
		case "githubWorkflowSha":
			got = s.GitHubWorkflowSHA
		case "githubWorkflowName":
			got = s.GitHubWorkflowName
		case "githubWorkflowRepository":
			got = s.GitHubWorkflowRepository
		case "githubWorkflowRef":
			got = s.GitHubWorkflowRef
		}
		if !imageref.Match(want, got) {
			return fmt.Sprintf("signed by %s, but %s is %q, want %q", s.Subject, key, got, want)
		}
	}
	return ""
}

// cleanReason turns cosign's error into one line a person can act on.
func cleanReason(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "no matching signatures: ")
	if i := strings.Index(msg, "none of the expected identities matched what was in the certificate, "); i >= 0 {
		msg = "signed by another identity: " + strings.TrimPrefix(msg[i:], "none of the expected identities matched what was in the certificate, ")
	}
	if strings.Contains(msg, "comparing public key PEMs") || strings.Contains(msg, "invalid signature when validating ASN.1 encoded signature") {
		// cosign prints both keys in full; the fact is enough.
		msg = "signed with a different key than the policy's"
	}
	msg = strings.ReplaceAll(msg, "\n", " ")
	return msg
}

func summarize(reasons []string) string {
	seen := map[string]bool{}
	var uniq []string
	for _, r := range reasons {
		if !seen[r] {
			seen[r] = true
			uniq = append(uniq, r)
		}
	}
	if len(uniq) == 1 {
		return uniq[0]
	}
	return fmt.Sprintf("%d signatures, none acceptable: %s", len(reasons), strings.Join(uniq, "; "))
}

// readFailure reports an error from reading signature material from the
// registry, as opposed to a signature that does not verify.
func readFailure(err error) bool {
	var te *transport.Error
	var ue *url.Error
	return errors.Is(err, registry.ErrResponseTooLarge) || errors.As(err, &te) || errors.As(err, &ue) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
