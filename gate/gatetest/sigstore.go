// Package gatetest is the test world of gitops-gate: an in-process OCI
// registry with fault injection, and an offline stand-in for the Sigstore
// public-good services (Fulcio CA + CT log, Rekor transparency log, TSA) that
// produces exactly what `cosign sign` produces, so that cosign v2's real
// verification code accepts it:
//
//   - Fulcio-like root + intermediate CA issuing 10-minute code-signing leaf
//     certificates with the Fulcio OID extensions (1.3.6.1.4.1.57264.1.*) and
//     an embedded, correctly signed SCT from a fake CT log.
//   - Rekor-like log: real RFC 6962 Merkle tree, canonicalized rekor entry
//     bodies (hashedrekord / dsse), a Signed Entry Timestamp (SET, the
//     "inclusion promise") and an inclusion proof with a signed checkpoint.
//   - A sigstore-go root.TrustedRoot (and its trusted_root.json) describing the
//     above, which is what a verifier is configured with.
//
// The fake GitHub (REST API, check runs, attestations API) is the
// subpackage fakegithub.
//
// It is only meant for tests and the demo mode. The Sigstore part is adapted
// from the project's reference proof of concept (shared/reference/cosign-poc).
package gatetest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"sync"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	ctx509util "github.com/google/certificate-transparency-go/x509util"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	rekorutil "github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"

	// register the rekor entry kinds we create
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1"
)

// Fulcio certificate extension OIDs, see
// https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md
var (
	OIDIssuerV1                 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1} // raw string (deprecated but still emitted by Fulcio)
	OIDGitHubWorkflowTrigger    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 2} // raw string
	OIDGitHubWorkflowSHA        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 3} // raw string
	OIDGitHubWorkflowName       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 4} // raw string
	OIDGitHubWorkflowRepository = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 5} // raw string
	OIDGitHubWorkflowRef        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 6} // raw string
	OIDIssuerV2                 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8} // DER UTF8String
	// 1.9 .. 1.22 are DER UTF8String
	OIDBuildSignerURI                      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 9}
	OIDBuildSignerDigest                   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 10}
	OIDRunnerEnvironment                   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 11}
	OIDSourceRepositoryURI                 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 12}
	OIDSourceRepositoryDigest              = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 13}
	OIDSourceRepositoryRef                 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 14}
	OIDSourceRepositoryIdentifier          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 15}
	OIDSourceRepositoryOwnerURI            = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 16}
	OIDSourceRepositoryOwnerIdentifier     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 17}
	OIDBuildConfigURI                      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 18}
	OIDBuildConfigDigest                   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 19}
	OIDBuildTrigger                        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 20}
	OIDRunInvocationURI                    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 21}
	OIDSourceRepositoryVisibilityAtSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 22}

	oidCTPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	oidCTSCT    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
)

// GitHubIdentity describes the OIDC identity of a GitHub Actions workflow run,
// i.e. the claims Fulcio copies into the certificate.
type GitHubIdentity struct {
	Issuer     string // https://token.actions.githubusercontent.com
	Repository string // acme/app
	Workflow   string // .github/workflows/release.yml
	Ref        string // refs/tags/v1.0.0
	SHA        string // commit sha
	Trigger    string // push
	RunID      string
	// RunnerEnvironment is github-hosted (the default) or self-hosted.
	RunnerEnvironment string
}

// SAN returns the certificate Subject Alternative Name (URI) Fulcio issues for
// GitHub workflow tokens (the job_workflow_ref claim).
func (g GitHubIdentity) SAN() string {
	return fmt.Sprintf("https://github.com/%s/%s@%s", g.Repository, g.Workflow, g.Ref)
}

// DefaultGitHubIdentity is the identity used by the PoC's happy path.
func DefaultGitHubIdentity() GitHubIdentity {
	return GitHubIdentity{
		Issuer:     "https://token.actions.githubusercontent.com",
		Repository: "acme/app",
		Workflow:   ".github/workflows/release.yml",
		Ref:        "refs/tags/v1.0.0",
		SHA:        "0123456789abcdef0123456789abcdef01234567",
		Trigger:    "push",
		RunID:      "4242",
	}
}

// Sigstore is the fake Fulcio + CT log + Rekor.
type Sigstore struct {
	RootCert         *x509.Certificate
	rootKey          *ecdsa.PrivateKey
	IntermediateCert *x509.Certificate
	intermediateKey  *ecdsa.PrivateKey

	ctKey   *ecdsa.PrivateKey
	CTLogID [32]byte

	// RFC 3161 timestamping authority (root -> TSA intermediate -> TSA leaf)
	TSAIntermediateCert *x509.Certificate
	TSALeafCert         *x509.Certificate
	tsaKey              *ecdsa.PrivateKey

	Rekor *Rekor

	// Start is the beginning of the validity window of every service.
	Start time.Time
	// SkipSCT makes IssueLeaf produce certificates without an embedded SCT.
	SkipSCT bool
	// OnlyV2Issuer omits the deprecated raw issuer extension (OID ...57264.1.1)
	// and the legacy GitHub extensions (1.2-1.6), keeping only 1.8+.
	OnlyV2Issuer bool
	// GitHubInstance says this stands in for GitHub's own Sigstore instance
	// (NewGitHubInstance): no Rekor, no CT log, only a TSA.
	GitHubInstance bool
}

// IdentityFor returns a GitHub Actions identity of repository, release
// workflow and tag ref, as Fulcio would put in a certificate.
func IdentityFor(repository, ref string) GitHubIdentity {
	id := DefaultGitHubIdentity()
	id.Repository = repository
	id.Ref = ref
	return id
}

// New creates a fresh fake Sigstore (new keys every time).
func New() (*Sigstore, error) { return newSigstore("sigstore.dev") }

// NewGitHubInstance stands in for GitHub's own Sigstore instance, which
// signs artifact attestations of private repositories: its CAs are issued
// to "GitHub, Inc." (the organisation gh attestation verify tells the
// instances apart by), its certificates carry no SCT, and its trusted root
// (TrustedRoot, as gh attestation trusted-root prints it) has a Fulcio CA
// and a TSA but no Rekor and no CT log. Attest with NoTlog and TSA.
func NewGitHubInstance() (*Sigstore, error) {
	s, err := newSigstore("GitHub, Inc.")
	if err != nil {
		return nil, err
	}
	s.GitHubInstance, s.SkipSCT = true, true
	return s, nil
}

func newSigstore(org string) (*Sigstore, error) {
	now := time.Now()
	s := &Sigstore{Start: now.Add(-48 * time.Hour)}
	var err error
	if s.RootCert, s.rootKey, err = newCA("sigstore", org, nil, nil, s.Start); err != nil {
		return nil, err
	}
	if s.IntermediateCert, s.intermediateKey, err = newCA("sigstore-intermediate", org, s.RootCert, s.rootKey, s.Start); err != nil {
		return nil, err
	}
	if s.ctKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if err = s.newTSA(); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(s.ctKey.Public())
	if err != nil {
		return nil, err
	}
	s.CTLogID = sha256.Sum256(der)
	if s.Rekor, err = NewRekor("rekor.fake.test"); err != nil {
		return nil, err
	}
	return s, nil
}

func newCA(cn, org string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, notBefore time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{org}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	signer := key
	if parent == nil {
		parent = tmpl
	} else {
		// Fulcio's intermediate is restricted to code signing.
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
		tmpl.MaxPathLenZero = true
		signer = parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func derUTF8(s string) []byte {
	b, err := asn1.MarshalWithParams(s, "utf8")
	if err != nil {
		panic(err)
	}
	return b
}

// IssueLeaf issues a Fulcio-style leaf certificate for pub, valid for 10
// minutes starting at notBefore, with the GitHub Actions extensions and an
// embedded SCT.
func (s *Sigstore) IssueLeaf(id GitHubIdentity, pub crypto.PublicKey, notBefore time.Time) (*x509.Certificate, error) {
	san, err := url.Parse(id.SAN())
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	skid, err := cryptoutils.SKID(pub)
	if err != nil {
		return nil, err
	}
	repoURL := "https://github.com/" + id.Repository
	runner := id.RunnerEnvironment
	if runner == "" {
		runner = "github-hosted"
	}
	ext := []pkix.Extension{
		{Id: OIDIssuerV1, Value: []byte(id.Issuer)},
		{Id: OIDGitHubWorkflowTrigger, Value: []byte(id.Trigger)},
		{Id: OIDGitHubWorkflowSHA, Value: []byte(id.SHA)},
		{Id: OIDGitHubWorkflowName, Value: []byte("release")},
		{Id: OIDGitHubWorkflowRepository, Value: []byte(id.Repository)},
		{Id: OIDGitHubWorkflowRef, Value: []byte(id.Ref)},
		{Id: OIDIssuerV2, Value: derUTF8(id.Issuer)},
		{Id: OIDBuildSignerURI, Value: derUTF8(id.SAN())},
		{Id: OIDBuildSignerDigest, Value: derUTF8(id.SHA)},
		{Id: OIDRunnerEnvironment, Value: derUTF8(runner)},
		{Id: OIDSourceRepositoryURI, Value: derUTF8(repoURL)},
		{Id: OIDSourceRepositoryDigest, Value: derUTF8(id.SHA)},
		{Id: OIDSourceRepositoryRef, Value: derUTF8(id.Ref)},
		{Id: OIDSourceRepositoryIdentifier, Value: derUTF8("123456")},
		{Id: OIDSourceRepositoryOwnerURI, Value: derUTF8("https://github.com/" + ownerOf(id.Repository))},
		{Id: OIDSourceRepositoryOwnerIdentifier, Value: derUTF8("654321")},
		{Id: OIDBuildConfigURI, Value: derUTF8(id.SAN())},
		{Id: OIDBuildConfigDigest, Value: derUTF8(id.SHA)},
		{Id: OIDBuildTrigger, Value: derUTF8(id.Trigger)},
		{Id: OIDRunInvocationURI, Value: derUTF8(repoURL + "/actions/runs/" + id.RunID + "/attempts/1")},
		{Id: OIDSourceRepositoryVisibilityAtSigning, Value: derUTF8("public")},
	}
	if s.OnlyV2Issuer {
		ext = ext[6:]
	}
	tmpl := &x509.Certificate{
		SerialNumber:    serial,
		NotBefore:       notBefore,
		NotAfter:        notBefore.Add(10 * time.Minute), // Fulcio certs live 10 minutes
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		SubjectKeyId:    skid,
		URIs:            []*url.URL{san}, // empty subject => Go marks SAN critical, like Fulcio
		ExtraExtensions: ext,
	}
	if s.SkipSCT {
		return s.sign(tmpl, pub)
	}

	// 1. precertificate = template + critical CT poison extension (RFC 6962 3.1)
	tmpl.ExtraExtensions = append(ext, pkix.Extension{Id: oidCTPoison, Critical: true, Value: asn1.NullBytes})
	pre, err := s.sign(tmpl, pub)
	if err != nil {
		return nil, err
	}
	preTBS, err := ctx509.RemoveCTPoison(pre.RawTBSCertificate)
	if err != nil {
		return nil, err
	}
	// 2. the CT log signs an SCT over (issuer key hash, precert TBS)
	sct := ct.SignedCertificateTimestamp{
		SCTVersion: ct.V1,
		LogID:      ct.LogID{KeyID: s.CTLogID},
		Timestamp:  uint64(notBefore.UnixMilli()),
	}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: ct.MerkleTreeLeaf{
		Version:  ct.V1,
		LeafType: ct.TimestampedEntryLeafType,
		TimestampedEntry: &ct.TimestampedEntry{
			Timestamp: sct.Timestamp,
			EntryType: ct.PrecertLogEntryType,
			PrecertEntry: &ct.PreCert{
				IssuerKeyHash:  sha256.Sum256(s.IntermediateCert.RawSubjectPublicKeyInfo),
				TBSCertificate: preTBS,
			},
		},
	}})
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(input)
	sig, err := ecdsa.SignASN1(rand.Reader, s.ctKey, h[:])
	if err != nil {
		return nil, err
	}
	sct.Signature = ct.DigitallySigned{
		Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA},
		Signature: sig,
	}
	list, err := ctx509util.MarshalSCTsIntoSCTList([]*ct.SignedCertificateTimestamp{&sct})
	if err != nil {
		return nil, err
	}
	listBytes, err := cttls.Marshal(*list)
	if err != nil {
		return nil, err
	}
	sctExt, err := asn1.Marshal(listBytes)
	if err != nil {
		return nil, err
	}
	// 3. final certificate = template + SCT list extension in the poison's place
	tmpl.ExtraExtensions = append(ext[:len(ext):len(ext)], pkix.Extension{Id: oidCTSCT, Value: sctExt})
	leaf, err := s.sign(tmpl, pub)
	if err != nil {
		return nil, err
	}
	check, err := ctx509.RemoveSCTList(leaf.RawTBSCertificate)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(check, preTBS) {
		return nil, errors.New("fakesigstore: final TBS does not match precert TBS")
	}
	return leaf, nil
}

func ownerOf(repo string) string {
	for i := 0; i < len(repo); i++ {
		if repo[i] == '/' {
			return repo[:i]
		}
	}
	return repo
}

func (s *Sigstore) sign(tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.IntermediateCert, pub, s.intermediateKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// ChainPEM returns intermediate+root PEM, i.e. what cosign stores in the
// dev.sigstore.cosign/chain annotation.
func (s *Sigstore) ChainPEM() []byte {
	b, err := cryptoutils.MarshalCertificatesToPEM([]*x509.Certificate{s.IntermediateCert, s.RootCert})
	if err != nil {
		panic(err)
	}
	return b
}

// CTLogPublicKey returns the fake CT log's public key.
func (s *Sigstore) CTLogPublicKey() crypto.PublicKey { return s.ctKey.Public() }

// TrustedRoot builds the sigstore-go trusted root describing this instance.
func (s *Sigstore) TrustedRoot() (*root.TrustedRoot, error) {
	fulcio := &root.FulcioCertificateAuthority{
		Root:                s.RootCert,
		Intermediates:       []*x509.Certificate{s.IntermediateCert},
		ValidityPeriodStart: s.Start,
		URI:                 "https://fulcio.fake.test",
	}
	ctlogs := map[string]*root.TransparencyLog{
		hex.EncodeToString(s.CTLogID[:]): {
			BaseURL:             "https://ctfe.fake.test",
			ID:                  s.CTLogID[:],
			ValidityPeriodStart: s.Start,
			HashFunc:            crypto.SHA256,
			PublicKey:           s.ctKey.Public(),
			SignatureHashFunc:   crypto.SHA256,
		},
	}
	rekorID, _ := hex.DecodeString(s.Rekor.LogID)
	rekorLogs := map[string]*root.TransparencyLog{
		s.Rekor.LogID: {
			BaseURL:             "https://" + s.Rekor.Hostname,
			ID:                  rekorID,
			ValidityPeriodStart: s.Start, // must be set, else "rekor validity period start time not set"
			HashFunc:            crypto.SHA256,
			PublicKey:           s.Rekor.key.Public(),
			SignatureHashFunc:   crypto.SHA256,
		},
	}
	tsa := &root.SigstoreTimestampingAuthority{
		Root:                s.RootCert,
		Intermediates:       []*x509.Certificate{s.TSAIntermediateCert},
		Leaf:                s.TSALeafCert,
		ValidityPeriodStart: s.Start,
		URI:                 "https://tsa.fake.test",
	}
	if s.GitHubInstance {
		fulcio.URI = "https://fulcio.githubapp.com"
		ctlogs, rekorLogs = map[string]*root.TransparencyLog{}, map[string]*root.TransparencyLog{}
	}
	return root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{fulcio}, ctlogs, []root.TimestampingAuthority{tsa}, rekorLogs)
}

// TrustedRootJSON returns trusted_root.json bytes (same format as the TUF
// target "trusted_root.json" and `cosign trusted-root create`).
func (s *Sigstore) TrustedRootJSON() ([]byte, error) {
	tr, err := s.TrustedRoot()
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(tr, "", "  ")
}

// ---------------------------------------------------------------------------
// Rekor

// Rekor is a minimal in-memory Rekor v1 log.
type Rekor struct {
	mu       sync.Mutex
	key      *ecdsa.PrivateKey
	signer   signature.SignerVerifier
	LogID    string // hex(sha256(PKIX(pub)))
	Hostname string
	TreeID   int64
	tree     *testonly.Tree
}

// NewRekor creates a new log with a fresh key.
func NewRekor(hostname string) (*Rekor, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	id := sha256.Sum256(der)
	sv, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return &Rekor{
		key: key, signer: sv, LogID: hex.EncodeToString(id[:]),
		Hostname: hostname, TreeID: 1193050959916656506,
		tree: testonly.New(rfc6962.DefaultHasher),
	}, nil
}

// PublicKeyPEM returns the log's public key as PEM.
func (r *Rekor) PublicKeyPEM() []byte {
	b, _ := cryptoutils.MarshalPublicKeyToPEM(r.key.Public())
	return b
}

// PublicKey returns the log public key.
func (r *Rekor) PublicKey() crypto.PublicKey { return r.key.Public() }

// Upload validates and appends a proposed entry exactly like Rekor's
// POST /api/v1/log/entries, returning the LogEntryAnon Rekor would return
// (canonicalized body, SET, inclusion proof + signed checkpoint).
func (r *Rekor) Upload(ctx context.Context, pe models.ProposedEntry, integratedTime time.Time) (*models.LogEntryAnon, error) {
	impl, err := types.CreateVersionedEntry(pe) // validates signature etc.
	if err != nil {
		return nil, fmt.Errorf("rekor: invalid entry: %w", err)
	}
	body, err := types.CanonicalizeEntry(ctx, impl)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tree.AppendData(body)
	size := r.tree.Size()
	idx := int64(size - 1)
	rootHash := r.tree.Hash()
	proof, err := r.tree.InclusionProof(uint64(idx), size)
	if err != nil {
		return nil, err
	}
	hashes := make([]string, len(proof))
	for i, p := range proof {
		hashes[i] = hex.EncodeToString(p)
	}
	cp, err := rekorutil.CreateAndSignCheckpoint(ctx, r.Hostname, r.TreeID, size, rootHash, r.signer)
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString(body)
	it := integratedTime.Unix()
	set, err := r.SignSET(cbundle.RekorPayload{Body: b64, IntegratedTime: it, LogIndex: idx, LogID: r.LogID})
	if err != nil {
		return nil, err
	}
	rootHex := hex.EncodeToString(rootHash)
	cps := string(cp)
	sizeI := int64(size)
	return &models.LogEntryAnon{
		Body:           b64,
		IntegratedTime: &it,
		LogID:          &r.LogID,
		LogIndex:       &idx,
		Verification: &models.LogEntryAnonVerification{
			SignedEntryTimestamp: set,
			InclusionProof: &models.InclusionProof{
				Checkpoint: &cps,
				Hashes:     hashes,
				LogIndex:   &idx,
				RootHash:   &rootHex,
				TreeSize:   &sizeI,
			},
		},
	}, nil
}

// SignSET signs the canonical JSON of the bundle payload (this is the SET /
// "inclusion promise" that cosign stores in dev.sigstore.cosign/bundle).
func (r *Rekor) SignSET(p cbundle.RekorPayload) ([]byte, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	canon, err := jsoncanonicalizer.Transform(raw)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(canon)
	return ecdsa.SignASN1(rand.Reader, r.key, h[:])
}
