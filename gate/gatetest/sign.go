package gatetest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	intotov1 "github.com/in-toto/attestation/go/v1"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	sigPayload "github.com/sigstore/sigstore/pkg/signature/payload"
	"google.golang.org/protobuf/encoding/protojson"
)

// SignOptions controls one emulated `cosign sign` run.
type SignOptions struct {
	Identity GitHubIdentity
	// CertNotBefore defaults to now-1m (cert then valid until now+9m).
	CertNotBefore time.Time
	// IntegratedTime is the Rekor integration time; defaults to CertNotBefore+30s.
	IntegratedTime time.Time
	// NoTlog skips the Rekor upload (like `cosign sign --tlog-upload=false`):
	// no dev.sigstore.cosign/bundle annotation is written.
	NoTlog bool
	// TSA adds an RFC 3161 timestamp (dev.sigstore.cosign/rfc3161timestamp),
	// like `cosign sign --timestamp-server-url`. TSATime defaults to
	// CertNotBefore+30s.
	TSA     bool
	TSATime time.Time
	// TSASigner overrides the TSA (e.g. an untrusted one).
	TSASigner *Sigstore
	// OCI11 stores the classic signature as an OCI 1.1 referrer instead of
	// the sha256-<hex>.sig tag (`cosign sign --registry-referrers-mode=oci-1-1`).
	OCI11 bool
	// Annotations go into the signed payload's "optional" section, like
	// `cosign sign -a key=value`.
	Annotations map[string]any
}

func (o *SignOptions) defaults() {
	if o.Identity == (GitHubIdentity{}) {
		o.Identity = DefaultGitHubIdentity()
	}
	if o.CertNotBefore.IsZero() {
		o.CertNotBefore = time.Now().Add(-time.Minute).Truncate(time.Second)
	}
	if o.IntegratedTime.IsZero() {
		o.IntegratedTime = o.CertNotBefore.Add(30 * time.Second)
	}
	if o.TSATime.IsZero() {
		o.TSATime = o.CertNotBefore.Add(30 * time.Second)
	}
}

// keyless does what `cosign sign` does before signing: ephemeral P-256 key,
// Fulcio certificate for it.
func (s *Sigstore) keyless(o SignOptions) (signature.SignerVerifier, crypto.PublicKey, []byte, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := s.IssueLeaf(o.Identity, priv.Public(), o.CertNotBefore)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		return nil, nil, nil, err
	}
	return sv, priv.Public(), certPEM, nil
}

// SignImage reproduces `cosign sign <digest>` (keyless, legacy/"old" format):
//
//	payload   = simple signing JSON {"critical":{"identity":{"docker-reference":..},
//	            "image":{"docker-manifest-digest":"sha256:.."},"type":"cosign container image signature"},"optional":null}
//	signature = ECDSA-P256-SHA256(payload) by the ephemeral key
//	rekor     = hashedrekord{sha256(payload), sig, certPEM} -> SET in dev.sigstore.cosign/bundle
//	push      = <repo>:sha256-<hex>.sig manifest, one layer (the payload, mediaType
//	            application/vnd.dev.cosign.simplesigning.v1+json) with annotations
//	            dev.cosignproject.cosign/signature, dev.sigstore.cosign/certificate,
//	            dev.sigstore.cosign/chain, dev.sigstore.cosign/bundle
//
// It uses cosign's own public packages (payload, static, mutate, ociremote,
// cosign/bundle); only the internal signer wrappers are re-implemented.
func (s *Sigstore) SignImage(ctx context.Context, digest name.Digest, o SignOptions, regOpts ...ociremote.Option) error {
	o.defaults()
	payload, err := (&sigPayload.Cosign{Image: digest, Annotations: o.Annotations}).MarshalJSON()
	if err != nil {
		return err
	}
	sv, _, certPEM, err := s.keyless(o)
	if err != nil {
		return err
	}
	sig, err := sv.SignMessage(bytes.NewReader(payload))
	if err != nil {
		return err
	}
	opts := []static.Option{static.WithCertChain(certPEM, s.ChainPEM())}
	if o.TSA {
		tsaS := s
		if o.TSASigner != nil {
			tsaS = o.TSASigner
		}
		tsr, err := tsaS.Timestamp(sig, o.TSATime)
		if err != nil {
			return err
		}
		opts = append(opts, static.WithRFC3161Timestamp(cbundle.TimestampToRFC3161Timestamp(tsr)))
	}
	return s.publish(ctx, digest, payload, sig, certPEM, opts, o, regOpts)
}

// SignImageNewBundle reproduces `cosign sign --new-bundle-format <digest>`
// (cosign v2.6.x without a signing config): DSSE-signed in-toto statement with
// predicateType https://sigstore.dev/cosign/sign/v1, uploaded to Rekor as a
// "dsse" entry, packed as a Sigstore bundle v0.3 and attached as an OCI 1.1
// referrer (artifactType application/vnd.dev.sigstore.bundle.v0.3+json).
func (s *Sigstore) SignImageNewBundle(ctx context.Context, digest name.Digest, o SignOptions, regOpts ...ociremote.Option) error {
	o.defaults()
	parts := strings.SplitN(digest.DigestStr(), ":", 2)
	statement := &intotov1.Statement{
		Type:          intotov1.StatementTypeUri,
		Subject:       []*intotov1.ResourceDescriptor{{Digest: map[string]string{parts[0]: parts[1]}}},
		PredicateType: ctypes.CosignSignPredicateType,
	}
	payload, err := protojson.Marshal(statement)
	if err != nil {
		return err
	}
	sv, pub, certPEM, err := s.keyless(o)
	if err != nil {
		return err
	}
	envelope, err := sigdsse.WrapSigner(sv, ctypes.IntotoPayloadType).SignMessage(bytes.NewReader(payload))
	if err != nil {
		return err
	}
	var entry *models.LogEntryAnon
	if !o.NoTlog {
		pe, err := types.NewProposedEntry(ctx, "dsse", "0.0.1", types.ArtifactProperties{
			ArtifactBytes:  envelope,
			PublicKeyBytes: [][]byte{certPEM},
		})
		if err != nil {
			return err
		}
		if entry, err = s.Rekor.Upload(ctx, pe, o.IntegratedTime); err != nil {
			return err
		}
	}
	bundleBytes, err := cbundle.MakeNewBundle(pub, entry, payload, envelope, certPEM, nil)
	if err != nil {
		return err
	}
	return ociremote.WriteAttestationNewBundleFormat(digest, bundleBytes, ctypes.CosignSignPredicateType, regOpts...)
}

// KeyPair is a cosign key pair (`cosign generate-key-pair`), unencrypted.
type KeyPair struct {
	Private   *ecdsa.PrivateKey
	PublicPEM []byte
}

// NewKeyPair generates a P-256 key pair like cosign's default.
func NewKeyPair() (*KeyPair, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pemBytes, err := cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, err
	}
	return &KeyPair{Private: priv, PublicPEM: pemBytes}, nil
}

// SignImageWithKey reproduces `cosign sign --key cosign.key <digest>`: the
// simple-signing payload signed by a long-lived key, with a Rekor
// hashedrekord entry for the public key unless NoTlog.
func (s *Sigstore) SignImageWithKey(ctx context.Context, digest name.Digest, kp *KeyPair, o SignOptions, regOpts ...ociremote.Option) error {
	o.defaults()
	payload, err := (&sigPayload.Cosign{Image: digest}).MarshalJSON()
	if err != nil {
		return err
	}
	sv, err := signature.LoadECDSASignerVerifier(kp.Private, crypto.SHA256)
	if err != nil {
		return err
	}
	sig, err := sv.SignMessage(bytes.NewReader(payload))
	if err != nil {
		return err
	}
	return s.publish(ctx, digest, payload, sig, kp.PublicPEM, nil, o, regOpts)
}

// publish does what cosign sign does after signing: the hashedrekord entry
// (unless NoTlog), the signature layer with its annotations, and the push
// as a .sig tag or an OCI 1.1 referrer.
func (s *Sigstore) publish(ctx context.Context, digest name.Digest, payload, sig, publicPEM []byte, opts []static.Option, o SignOptions, regOpts []ociremote.Option) error {
	if !o.NoTlog {
		h := sha256.Sum256(payload)
		pe, err := types.NewProposedEntry(ctx, "hashedrekord", "0.0.1", types.ArtifactProperties{
			ArtifactHash:   hex.EncodeToString(h[:]),
			SignatureBytes: sig,
			PublicKeyBytes: [][]byte{publicPEM},
			PKIFormat:      "x509",
		})
		if err != nil {
			return err
		}
		entry, err := s.Rekor.Upload(ctx, pe, o.IntegratedTime)
		if err != nil {
			return err
		}
		opts = append(opts, static.WithBundle(cbundle.EntryToBundle(entry)))
	}
	ociSig, err := static.NewSignature(payload, base64.StdEncoding.EncodeToString(sig), opts...)
	if err != nil {
		return err
	}
	se, err := ociremote.SignedEntity(digest, regOpts...)
	if err != nil {
		return fmt.Errorf("accessing image: %w", err)
	}
	newSE, err := mutate.AttachSignatureToEntity(se, ociSig)
	if err != nil {
		return err
	}
	if o.OCI11 {
		return ociremote.WriteSignaturesExperimentalOCI(digest, newSE, regOpts...)
	}
	return ociremote.WriteSignatures(digest.Repository, newSE, regOpts...)
}
