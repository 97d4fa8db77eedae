// Package trust loads the Sigstore trust material the gate verifies
// against: a trusted_root.json (a private or air-gapped Sigstore, or a
// vendored snapshot of the public-good one), or the public-good root through
// TUF with an on-disk cache for connected deployments. It also describes the
// material for people (CA subjects, validity, log IDs), so that a reader
// knows what "verified" means.
//
// Trust comes from the gate's configuration only, never from the repository
// under review.
package trust

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
)

// Source says where trust material comes from. Exactly one of the fields is
// used: TrustedRootPath, else TUF (public-good Sigstore).
type Source struct {
	TrustedRootPath string
	// TUFCacheDir caches public-good TUF metadata; TUFMirror overrides the
	// repository URL (empty: sigstore's CDN).
	TUFCacheDir string
	TUFMirror   string
	// UseTUF must be set to reach for the public-good root: a deployment
	// never silently depends on the network for trust.
	UseTUF bool
}

// Load returns the trust material, or an error that says what was tried.
func Load(s Source) (*root.TrustedRoot, error) {
	switch {
	case s.TrustedRootPath != "":
		if _, err := os.Stat(s.TrustedRootPath); err != nil {
			return nil, fmt.Errorf("trusted root: %w", err) // the error names the path
		}
		tr, err := root.NewTrustedRootFromPath(s.TrustedRootPath)
		if err != nil {
			return nil, fmt.Errorf("trusted root %s: %w", s.TrustedRootPath, err)
		}
		return tr, nil
	case s.UseTUF:
		opts := tuf.DefaultOptions()
		if s.TUFCacheDir != "" {
			opts = opts.WithCachePath(s.TUFCacheDir)
		}
		if s.TUFMirror != "" {
			opts = opts.WithRepositoryBaseURL(s.TUFMirror)
		}
		tr, err := root.FetchTrustedRootWithOptions(opts)
		if err != nil {
			return nil, fmt.Errorf("public-good trust root through TUF: %w", err)
		}
		return tr, nil
	}
	return nil, fmt.Errorf("no trust root configured: give --trusted-root (a Sigstore trusted_root.json) or --tuf for public-good Sigstore")
}

// MaxTrustedRootSize bounds a trusted_root.json given inline (a policy's
// trustedRoot): real ones are tens of kilobytes (GitHub's is ~26 KB), and
// Kyverno refuses more than this too.
const MaxTrustedRootSize = 1 << 20

// Parse reads a trusted_root.json given as bytes (a policy's inline
// trustedRoot), with the same parser as a --trusted-root file. what names
// the input in errors.
func Parse(what string, data []byte) (*root.TrustedRoot, error) {
	if len(data) > MaxTrustedRootSize {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a trusted_root.json may have", what, len(data), MaxTrustedRootSize)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not a Sigstore trusted_root.json: %w", what, err)
	}
	return tr, nil
}

// ID fingerprints trust material, so that results verified under one trust
// root are never reused under another.
func ID(tr *root.TrustedRoot) string {
	if tr == nil {
		return "none"
	}
	b, err := tr.MarshalJSON()
	if err != nil {
		return "unknown"
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// Description is trust material as a person reads it.
type Description struct {
	ID          string      `json:"id"`
	Fulcio      []Authority `json:"fulcio"`
	Rekor       []Log       `json:"rekor"`
	CTLogs      []Log       `json:"ctLogs"`
	Timestamper []Authority `json:"timestampAuthorities"`
}

// Authority is a certificate authority.
type Authority struct {
	URI       string    `json:"uri,omitempty"`
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
}

// Log is a transparency log.
type Log struct {
	ID         string    `json:"id"`
	BaseURL    string    `json:"baseUrl,omitempty"`
	ValidFrom  time.Time `json:"validFrom"`
	ValidUntil time.Time `json:"validUntil,omitzero"`
}

// Describe summarises trust material.
func Describe(tr *root.TrustedRoot) Description {
	d := Description{ID: ID(tr)}
	if tr == nil {
		return d
	}
	for _, ca := range tr.FulcioCertificateAuthorities() {
		if f, ok := ca.(*root.FulcioCertificateAuthority); ok && f.Root != nil {
			d.Fulcio = append(d.Fulcio, Authority{URI: f.URI, Subject: f.Root.Subject.String(), NotBefore: f.Root.NotBefore, NotAfter: f.Root.NotAfter})
		}
	}
	for _, ta := range tr.TimestampingAuthorities() {
		if s, ok := ta.(*root.SigstoreTimestampingAuthority); ok && s.Root != nil {
			d.Timestamper = append(d.Timestamper, Authority{URI: s.URI, Subject: s.Root.Subject.String(), NotBefore: s.Root.NotBefore, NotAfter: s.Root.NotAfter})
		}
	}
	d.Rekor = logs(tr.RekorLogs())
	d.CTLogs = logs(tr.CTLogs())
	return d
}

func logs(m map[string]*root.TransparencyLog) []Log {
	var out []Log
	for id, l := range m {
		out = append(out, Log{ID: id, BaseURL: l.BaseURL, ValidFrom: l.ValidityPeriodStart, ValidUntil: l.ValidityPeriodEnd})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ValidUntil is the earliest end of validity of the trust material's CAs and
// logs (zero when none ends): nothing verified with it stays verified past it.
func ValidUntil(tr *root.TrustedRoot) time.Time {
	var end time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (end.IsZero() || t.Before(end)) {
			end = t
		}
	}
	if tr == nil {
		return end
	}
	for _, ca := range tr.FulcioCertificateAuthorities() {
		if f, ok := ca.(*root.FulcioCertificateAuthority); ok {
			earlier(f.ValidityPeriodEnd)
			if f.Root != nil {
				earlier(f.Root.NotAfter)
			}
		}
	}
	for _, l := range tr.RekorLogs() {
		earlier(l.ValidityPeriodEnd)
	}
	for _, l := range tr.CTLogs() {
		earlier(l.ValidityPeriodEnd)
	}
	return end
}

// LoadJSONL reads the trusted roots `gh attestation trusted-root` prints:
// one trusted_root.json document per line (GitHub's own Sigstore instance,
// and usually public-good's). A file holding a single, indented document
// is read too. An empty file, or a line that is not a trusted root, is an
// error naming the file and line.
func LoadJSONL(path string) ([]*root.TrustedRoot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("GitHub trusted root: %w", err)
	}
	if tr, err := root.NewTrustedRootFromJSON(data); err == nil {
		return []*root.TrustedRoot{tr}, nil
	}
	var out []*root.TrustedRoot
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		tr, err := root.NewTrustedRootFromJSON(line)
		if err != nil {
			return nil, fmt.Errorf("GitHub trusted root %s:%d: %w", path, i+1, err)
		}
		out = append(out, tr)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("GitHub trusted root %s: no trusted root in it (want the output of gh attestation trusted-root)", path)
	}
	return out, nil
}
