package verify

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/gitops-gate/gitops-gate/gate/policy"
)

// inlineMaterial is the trust material a policy writes inline (keyless
// roots, rekor.pubkey, ctlog.pubkey, ctlog.tsaCertChain), completed from
// the gate's trust root for what the policy does not give. It is what
// Sigstore bundles are verified against, as classic signatures are
// verified against the same PEMs through cosign's explicit fields.
type inlineMaterial struct {
	root.BaseTrustedMaterial
	cas   []root.CertificateAuthority
	tsas  []root.TimestampingAuthority
	rekor map[string]*root.TransparencyLog
	ct    map[string]*root.TransparencyLog
}

func (m *inlineMaterial) FulcioCertificateAuthorities() []root.CertificateAuthority { return m.cas }
func (m *inlineMaterial) TimestampingAuthorities() []root.TimestampingAuthority     { return m.tsas }
func (m *inlineMaterial) RekorLogs() map[string]*root.TransparencyLog               { return m.rekor }
func (m *inlineMaterial) CTLogs() map[string]*root.TransparencyLog                  { return m.ct }

// bundleTrust is the trust material for verifying bundles against a
// keyless attestor: the gate's trust root, or the policy's inline PEMs
// completed from it.
func (v *Verifier) bundleTrust(a *policy.Attestor) (root.TrustedMaterial, error) {
	k := a.Keyless
	trusted, trustErr := v.trustFor(a)
	var hard *TrustRootError
	if errors.As(trustErr, &hard) {
		return nil, trustErr
	}
	inline := strings.TrimSpace(k.Roots) != "" || strings.TrimSpace(k.Rekor.PubKey) != "" ||
		strings.TrimSpace(k.CTLog.PubKey) != "" || strings.TrimSpace(k.CTLog.TSACertChain) != ""
	if !inline {
		if trusted == nil {
			return nil, fmt.Errorf("%s needs a trust root (Fulcio and Rekor keys): %w", a.Path, trustErr)
		}
		return trusted, nil
	}
	need := func(what string) error {
		return fmt.Errorf("%s: %s is neither in the policy nor in a trust root: %w", a.Path, what, trustErr)
	}
	m := &inlineMaterial{}
	switch {
	case strings.TrimSpace(k.Roots) != "":
		certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(k.Roots))
		if err != nil {
			return nil, fmt.Errorf("%s: roots: %w", a.Path, err)
		}
		var roots, inter []*x509.Certificate
		for _, c := range certs {
			if isSelfSigned(c) {
				roots = append(roots, c)
			} else {
				inter = append(inter, c)
			}
		}
		if len(roots) == 0 {
			return nil, fmt.Errorf("%s: roots: no self-signed root certificate", a.Path)
		}
		for _, r := range roots {
			m.cas = append(m.cas, &root.FulcioCertificateAuthority{Root: r, Intermediates: inter})
		}
	case trusted != nil:
		m.cas = trusted.FulcioCertificateAuthorities()
	default:
		return nil, need("the Fulcio root")
	}
	var err error
	if m.rekor, err = logOf(k.Rekor.PubKey, trusted, func(t root.TrustedMaterial) map[string]*root.TransparencyLog { return t.RekorLogs() }); err != nil {
		return nil, fmt.Errorf("%s: rekor.pubkey: %w", a.Path, err)
	}
	if m.rekor == nil && !k.Rekor.IgnoreTlog {
		return nil, need("the Rekor public key")
	}
	if m.ct, err = logOf(k.CTLog.PubKey, trusted, func(t root.TrustedMaterial) map[string]*root.TransparencyLog { return t.CTLogs() }); err != nil {
		return nil, fmt.Errorf("%s: ctlog.pubkey: %w", a.Path, err)
	}
	if m.ct == nil && !k.CTLog.IgnoreSCT {
		return nil, need("the CT log public key")
	}
	if chain := strings.TrimSpace(k.CTLog.TSACertChain); chain != "" {
		tsa, err := tsaOf(chain)
		if err != nil {
			return nil, fmt.Errorf("%s: ctlog.tsaCertChain: %w", a.Path, err)
		}
		m.tsas = append(m.tsas, tsa)
	} else if trusted != nil {
		m.tsas = trusted.TimestampingAuthorities()
	}
	return m, nil
}

// logOf is a log keyed by its ID (the SHA-256 of its public key, as Rekor
// and CT logs name themselves), from an inline PEM key or the trust root.
func logOf(pemKey string, trusted root.TrustedMaterial, from func(root.TrustedMaterial) map[string]*root.TransparencyLog) (map[string]*root.TransparencyLog, error) {
	if strings.TrimSpace(pemKey) == "" {
		if trusted == nil {
			return nil, nil
		}
		return from(trusted), nil
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(pemKey))
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	id := sha256.Sum256(der)
	// An inline key carries no validity period: valid since the epoch,
	// as cosign treats a key given on its command line.
	return map[string]*root.TransparencyLog{hex.EncodeToString(id[:]): {
		ID: id[:], PublicKey: pub, HashFunc: crypto.SHA256, SignatureHashFunc: crypto.SHA256,
		ValidityPeriodStart: time.Unix(1, 0),
	}}, nil
}

func tsaOf(chainPEM string) (root.TimestampingAuthority, error) {
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(chainPEM))
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no certificates")
	}
	// cosign's order: leaf first, root last.
	tsa := &root.SigstoreTimestampingAuthority{Leaf: certs[0], Root: certs[len(certs)-1]}
	if len(certs) > 2 {
		tsa.Intermediates = certs[1 : len(certs)-1]
	}
	return tsa, nil
}
