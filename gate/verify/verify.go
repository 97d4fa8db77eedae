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

// Options configure a Verifier.
type Options struct {
	// Trusted is the trust root (Fulcio CAs, CT logs, Rekor logs). When nil,
	// TrustErr says why; attestors that need it then end in an error.
	Trusted  root.TrustedMaterial
	TrustErr error
	Registry *registry.Resolver
}

// Verifier checks signatures. It is safe for concurrent use.
type Verifier struct {
	trusted  root.TrustedMaterial
	trustErr error
	reg      *registry.Resolver
}

// New builds a Verifier.
func New(o Options) (*Verifier, error) {
	if o.Registry == nil {
		return nil, errors.New("verify: a registry resolver is required")
	}
	if o.Trusted == nil && o.TrustErr == nil {
		o.TrustErr = ErrNoTrustRoot
	}
	return &Verifier{trusted: o.Trusted, trustErr: o.TrustErr, reg: o.Registry}, nil
}

// Material is every signature found for one digest.
type Material struct {
	Digest  name.Digest
	Classic []oci.Signature
	// Referrer is set when Classic came from OCI 1.1 referrers.
	Referrer bool
	Bundles  []*sgbundle.Bundle
}

// Empty reports that nothing cosign could have written was found.
func (m *Material) Empty() bool { return len(m.Classic) == 0 && len(m.Bundles) == 0 }

// Fetch collects the signatures of digest: the .sig tag first (the common
// case, two requests), then OCI 1.1 referrers (bundles and referrer
// signatures) when the tag has none or referrers is true. repository, when
// set, is where the signatures are stored instead of the image's repository.
func (v *Verifier) Fetch(ctx context.Context, digest name.Digest, repository string, referrers bool) (*Material, error) {
	opts := []ociremote.Option{ociremote.WithRemoteOptions(v.reg.RemoteOptions(ctx)...)}
	if repository != "" {
		repo, err := name.NewRepository(repository)
		if err != nil {
			return nil, fmt.Errorf("signature repository %q: %w", repository, err)
		}
		opts = append(opts, ociremote.WithTargetRepository(repo))
	}
	m := &Material{Digest: digest}
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
	if len(m.Classic) > 0 && !referrers {
		return m, nil
	}
	idx, err := ociremote.Referrers(digest, "", opts...)
	if err != nil {
		if notFound(err) {
			return m, nil // a registry without the referrers API holds no referrers
		}
		return nil, fmt.Errorf("listing referrers of %s: %w", digest.DigestStr(), err)
	}
	for _, desc := range idx.Manifests {
		ref := digest.Context().Digest(desc.Digest.String())
		if repository != "" {
			repo, _ := name.NewRepository(repository)
			ref = repo.Digest(desc.Digest.String())
		}
		if b, err := ociremote.Bundle(ref, opts...); err == nil {
			m.Bundles = append(m.Bundles, b)
			continue
		}
		if len(m.Classic) > 0 {
			continue
		}
		if s, err := ociremote.Signatures(ref, opts...); err == nil {
			if list, err := s.Get(); err == nil && len(list) > 0 && list[0] != nil {
				if mt, _ := list[0].MediaType(); strings.Contains(string(mt), "simplesigning") {
					m.Classic, m.Referrer = memoize(list), true
				}
			}
		}
	}
	return m, nil
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
		return Outcome{Reason: "no signatures found at " + m.Digest.DigestStr()}
	}
	h, err := v1.NewHash(m.Digest.DigestStr())
	if err != nil {
		return Outcome{Err: err}
	}
	var reasons []string
	var readErr error
	var found *Signer
	if vf.Type != "SigstoreBundle" {
		for _, sig := range m.Classic {
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
			if why := extensionMismatch(a, signer); why != "" {
				reasons = append(reasons, why)
				if found == nil {
					found = signer
				}
				continue
			}
			o := Outcome{Verified: true, Signer: signer, Format: FormatClassic, Timestamp: tsTime}
			if m.Referrer {
				o.Format = FormatReferrer
			}
			if b, err := sig.Bundle(); err == nil && b != nil {
				o.Tlog = &Tlog{LogIndex: b.Payload.LogIndex, IntegratedTime: time.Unix(b.Payload.IntegratedTime, 0).UTC()}
			}
			return o
		}
	}
	if a.Keyless != nil && len(m.Bundles) > 0 {
		if o, why := v.checkBundles(ctx, m, h, a); o != nil {
			return *o
		} else {
			reasons = append(reasons, why...)
		}
	}
	if readErr != nil {
		return Outcome{Err: readErr}
	}
	if len(reasons) == 0 {
		switch {
		case vf.Type == "SigstoreBundle":
			return Outcome{Reason: "no Sigstore bundle found at " + m.Digest.DigestStr()}
		default:
			return Outcome{Reason: "no signatures this attestor can check at " + m.Digest.DigestStr()}
		}
	}
	return Outcome{Reason: summarize(reasons), Found: found}
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

func (v *Verifier) checkBundles(ctx context.Context, m *Material, h v1.Hash, a *policy.Attestor) (*Outcome, []string) {
	co, err := v.checkOpts(a)
	if err != nil {
		return &Outcome{Err: err}, nil
	}
	if co.TrustedMaterial == nil {
		return nil, []string{"Sigstore bundles are verified against the gate's trust root, not inline roots"}
	}
	co.NewBundleFormat = true
	co.ClaimVerifier = nil // the artifact digest policy binds the bundle to the digest
	raw, err := hex.DecodeString(h.Hex)
	if err != nil {
		return &Outcome{Err: err}, nil
	}
	var reasons []string
	for _, b := range m.Bundles {
		vr, err := cosign.VerifyNewBundle(ctx, co, sgverify.WithArtifactDigest(h.Algorithm, raw), b)
		if err != nil {
			reasons = append(reasons, cleanReason(err))
			continue
		}
		signer := &Signer{}
		if vr.Signature != nil && vr.Signature.Certificate != nil {
			fillSigner(signer, *vr.Signature.Certificate)
		}
		if why := extensionMismatch(a, signer); why != "" {
			reasons = append(reasons, why)
			continue
		}
		o := &Outcome{Verified: true, Signer: signer, Format: FormatBundle}
		if entries, err := b.TlogEntries(); err == nil && len(entries) > 0 {
			o.Tlog = &Tlog{LogIndex: entries[0].LogIndex(), IntegratedTime: entries[0].IntegratedTime().UTC()}
		}
		return o, nil
	}
	return nil, reasons
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
	inline := strings.TrimSpace(roots) != "" || strings.TrimSpace(rekor.PubKey) != "" || strings.TrimSpace(ct.PubKey) != ""
	if !inline {
		if co.SigVerifier != nil && co.IgnoreTlog {
			return co, nil // a key and no log: nothing else to trust
		}
		if v.trusted == nil {
			return nil, fmt.Errorf("%s needs a trust root (Fulcio and Rekor keys): %w", a.Path, v.trustErr)
		}
		co.TrustedMaterial = v.trusted
		return co, nil
	}
	return co, v.legacyTrust(co, a.Path, roots, rekor.PubKey, ct.PubKey)
}

// legacyTrust fills cosign's explicit trust fields from a policy's inline
// PEMs, taking what the policy does not give from the gate's trust root.
func (v *Verifier) legacyTrust(co *cosign.CheckOpts, path, roots, rekorPub, ctPub string) error {
	need := func(what string) error {
		return fmt.Errorf("%s: %s is neither in the policy nor in a trust root: %w", path, what, v.trustErr)
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
		case v.trusted != nil:
			for _, ca := range v.trusted.FulcioCertificateAuthorities() {
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
		case v.trusted != nil:
			if err := addLogKeys(&keys, v.trusted.RekorLogs()); err != nil {
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
		case v.trusted != nil:
			if err := addLogKeys(&keys, v.trusted.CTLogs()); err != nil {
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
