package gatetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ggstatic "github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/rekor/pkg/generated/models"
	rtypes "github.com/sigstore/rekor/pkg/types"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
)

// Predicate types as cosign attest, actions/attest and scanners write them.
const (
	PredicateSLSAv1      = "https://slsa.dev/provenance/v1"
	PredicateSLSAv02     = "https://slsa.dev/provenance/v0.2"
	PredicateSPDX        = "https://spdx.dev/Document"
	PredicateCycloneDX   = "https://cyclonedx.org/bom"
	PredicateCosignVuln  = "https://cosign.sigstore.dev/attestation/vuln/v1"
	PredicateOpenVEX     = "https://openvex.dev/ns/v0.2.0"
	GitHubWorkflowBuild  = "https://actions.github.io/buildtypes/workflow/v1"
	dsseLayerMediaType   = "application/vnd.dsse.envelope.v1+json"
	ociEmptyArtifactType = "application/vnd.oci.empty.v1+json"
)

// AttestFormat is where an attestation is stored.
type AttestFormat int

const (
	// AttestClassic is `cosign attest` (v2): a DSSE envelope layer in the
	// sha256-<hex>.att tag, Rekor "dsse" entry in its bundle annotation.
	AttestClassic AttestFormat = iota
	// AttestBundle is `cosign attest --new-bundle-format` (cosign v3's
	// default) and `actions/attest` with push-to-registry: a Sigstore
	// bundle v0.3 holding the DSSE envelope, as an OCI 1.1 referrer.
	AttestBundle
	// AttestBundleFallback is AttestBundle on a registry without the
	// referrers API: the referrer manifest is pushed by digest and listed
	// in the sha256-<hex> fallback tag index, whose descriptor carries
	// FallbackArtifactType (cosign v3 has written "" and the OCI empty
	// type there) and no annotations.
	AttestBundleFallback
)

// AttestOptions controls one emulated attestation.
type AttestOptions struct {
	SignOptions
	Format        AttestFormat
	PredicateType string
	Predicate     any // marshalled to JSON
	// Subject is the digest the statement names; default: the digest the
	// attestation is attached to (set it to attach a statement about
	// another image).
	Subject *name.Digest
	// FallbackArtifactType is the artifactType of the fallback tag's
	// descriptor (AttestBundleFallback); default "".
	FallbackArtifactType string
	// Out, when set with AttestBundle, receives the bundle instead of the
	// registry (a bundle file, as cosign writes with --bundle).
	Out *[]byte
}

// Statement builds the in-toto v1 statement an attestation signs.
func Statement(subject name.Digest, predicateType string, predicate any) ([]byte, error) {
	parts := strings.SplitN(subject.DigestStr(), ":", 2)
	return json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": subject.Context().Name(), "digest": map[string]string{parts[0]: parts[1]}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
}

// AttestImage reproduces `cosign attest` / `actions/attest` for digest.
func (s *Sigstore) AttestImage(ctx context.Context, digest name.Digest, o AttestOptions, regOpts ...ociremote.Option) error {
	o.defaults()
	subject := digest
	if o.Subject != nil {
		subject = *o.Subject
	}
	statement, err := Statement(subject, o.PredicateType, o.Predicate)
	if err != nil {
		return err
	}
	sv, pub, certPEM, err := s.keyless(o.SignOptions)
	if err != nil {
		return err
	}
	envelope, err := sigdsse.WrapSigner(sv, ctypes.IntotoPayloadType).SignMessage(bytes.NewReader(statement))
	if err != nil {
		return err
	}
	var entry *models.LogEntryAnon
	if !o.NoTlog {
		pe, err := rtypes.NewProposedEntry(ctx, "dsse", "0.0.1", rtypes.ArtifactProperties{ArtifactBytes: envelope, PublicKeyBytes: [][]byte{certPEM}})
		if err != nil {
			return err
		}
		if entry, err = s.Rekor.Upload(ctx, pe, o.IntegratedTime); err != nil {
			return err
		}
	}
	switch o.Format {
	case AttestClassic:
		opts := []static.Option{
			static.WithLayerMediaType(dsseLayerMediaType),
			static.WithCertChain(certPEM, s.ChainPEM()),
			static.WithAnnotations(map[string]string{"predicateType": o.PredicateType}),
		}
		if entry != nil {
			opts = append(opts, static.WithBundle(cbundle.EntryToBundle(entry)))
		}
		att, err := static.NewAttestation(envelope, opts...)
		if err != nil {
			return err
		}
		se, err := ociremote.SignedEntity(digest, regOpts...)
		if err != nil {
			return fmt.Errorf("accessing image: %w", err)
		}
		newSE, err := mutate.AttachAttestationToEntity(se, att)
		if err != nil {
			return err
		}
		return ociremote.WriteAttestations(digest.Repository, newSE, regOpts...)
	case AttestBundle:
		var tsr []byte
		if o.TSA {
			// The TSA signs the DSSE signature bytes, as sigstore-go checks.
			if tsr, err = s.dsseTimestamp(envelope, o.SignOptions); err != nil {
				return err
			}
		}
		bundleBytes, err := cbundle.MakeNewBundle(pub, entry, statement, envelope, certPEM, tsr)
		if err != nil {
			return err
		}
		if o.Out != nil {
			*o.Out = bundleBytes
			return nil
		}
		return ociremote.WriteAttestationNewBundleFormat(digest, bundleBytes, o.PredicateType, regOpts...)
	case AttestBundleFallback:
		bundleBytes, err := cbundle.MakeNewBundle(pub, entry, statement, envelope, certPEM, nil)
		if err != nil {
			return err
		}
		return writeFallbackReferrer(ctx, digest, bundleBytes, o.FallbackArtifactType)
	}
	return fmt.Errorf("unknown attestation format %d", o.Format)
}

// dsseTimestamp is an RFC 3161 timestamp over the signature of a DSSE
// envelope, as actions/attest gets it from GitHub's TSA.
func (s *Sigstore) dsseTimestamp(envelope []byte, o SignOptions) ([]byte, error) {
	var env struct {
		Signatures []struct {
			Sig string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil || len(env.Signatures) == 0 {
		return nil, fmt.Errorf("DSSE envelope without a signature: %v", err)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		return nil, err
	}
	tsaS := s
	if o.TSASigner != nil {
		tsaS = o.TSASigner
	}
	return tsaS.Timestamp(sig, o.TSATime)
}

// SignImageNewBundleFallback is SignImageNewBundle on a registry without
// the referrers API: the bundle is listed in the sha256-<hex> fallback
// tag, its descriptor's artifactType set to artifactType.
func (s *Sigstore) SignImageNewBundleFallback(ctx context.Context, digest name.Digest, o SignOptions, artifactType string) error {
	return s.AttestImage(ctx, digest, AttestOptions{SignOptions: o, Format: AttestBundleFallback,
		PredicateType: ctypes.CosignSignPredicateType, FallbackArtifactType: artifactType})
}

type rawManifest struct {
	body []byte
	mt   types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.body, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// writeFallbackReferrer pushes the bundle's referrer manifest by digest and
// (re)writes the fallback tag index listing it, as cosign v3 does on a
// registry without the referrers API.
func writeFallbackReferrer(ctx context.Context, digest name.Digest, bundleBytes []byte, artifactType string) error {
	repo := digest.Repository
	bundleMT, err := sgbundle.MediaTypeString("0.3")
	if err != nil {
		return err
	}
	layer := ggstatic.NewLayer(bundleBytes, types.MediaType(bundleMT))
	empty := ggstatic.NewLayer([]byte("{}"), ociEmptyArtifactType)
	for _, l := range []v1.Layer{layer, empty} {
		if err := remote.WriteLayer(repo, l, remote.WithContext(ctx)); err != nil {
			return err
		}
	}
	ld, err := partialDescriptor(layer)
	if err != nil {
		return err
	}
	ed, err := partialDescriptor(empty)
	if err != nil {
		return err
	}
	subj, err := remote.Head(digest, remote.WithContext(ctx))
	if err != nil {
		return err
	}
	manifest := map[string]any{
		"schemaVersion": 2,
		"mediaType":     types.OCIManifestSchema1,
		"artifactType":  bundleMT,
		"config":        ed,
		"layers":        []any{ld},
		"subject":       map[string]any{"mediaType": subj.MediaType, "digest": subj.Digest.String(), "size": subj.Size},
		"annotations": map[string]string{
			"dev.sigstore.bundle.content":      "dsse-envelope",
			"org.opencontainers.image.created": time.Now().UTC().Format(time.RFC3339),
		},
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	mh, _, err := v1.SHA256(bytes.NewReader(mb))
	if err != nil {
		return err
	}
	if err := remote.Put(repo.Digest(mh.String()), rawManifest{mb, types.OCIManifestSchema1}, remote.WithContext(ctx)); err != nil {
		return err
	}
	desc := map[string]any{"mediaType": types.OCIManifestSchema1, "digest": mh.String(), "size": len(mb)}
	if artifactType != "" {
		desc["artifactType"] = artifactType
	}
	tag := repo.Tag(strings.Replace(digest.DigestStr(), ":", "-", 1))
	manifests := []any{}
	if old, err := remote.Get(tag, remote.WithContext(ctx)); err == nil {
		var idx struct {
			Manifests []any `json:"manifests"`
		}
		if json.Unmarshal(old.Manifest, &idx) == nil {
			manifests = idx.Manifests
		}
	}
	manifests = append(manifests, desc)
	ib, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": types.OCIImageIndex, "manifests": manifests})
	if err != nil {
		return err
	}
	return remote.Put(tag, rawManifest{ib, types.OCIImageIndex}, remote.WithContext(ctx))
}

func partialDescriptor(l v1.Layer) (map[string]any, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	sz, err := l.Size()
	if err != nil {
		return nil, err
	}
	mt, err := l.MediaType()
	if err != nil {
		return nil, err
	}
	return map[string]any{"mediaType": mt, "digest": d.String(), "size": sz}, nil
}

// GitHubProvenance are the fields of a SLSA v1 provenance made by
// actions/attest-build-provenance for a GitHub Actions workflow run
// (actions/toolkit packages/attest/src/provenance.ts).
type GitHubProvenance struct {
	Repository string // acme/app
	Ref        string // refs/heads/main
	Workflow   string // .github/workflows/release.yml
	Commit     string
	// BuilderID defaults to https://github.com/<repo>/<workflow>@<ref>.
	BuilderID string
	RunID     string
}

// SLSAProvenanceV1 is the predicate GitHub writes for a workflow build.
func SLSAProvenanceV1(p GitHubProvenance) map[string]any {
	if p.Repository == "" {
		p.Repository = "acme/app"
	}
	if p.Ref == "" {
		p.Ref = "refs/heads/main"
	}
	if p.Workflow == "" {
		p.Workflow = ".github/workflows/release.yml"
	}
	if p.Commit == "" {
		p.Commit = "0123456789abcdef0123456789abcdef01234567"
	}
	if p.RunID == "" {
		p.RunID = "4242"
	}
	server := "https://github.com"
	if p.BuilderID == "" {
		p.BuilderID = server + "/" + p.Repository + "/" + p.Workflow + "@" + p.Ref
	}
	return map[string]any{
		"buildDefinition": map[string]any{
			"buildType": GitHubWorkflowBuild,
			"externalParameters": map[string]any{
				"workflow": map[string]any{"ref": p.Ref, "repository": server + "/" + p.Repository, "path": p.Workflow},
			},
			"internalParameters": map[string]any{
				"github": map[string]any{"event_name": "push", "repository_id": "1", "repository_owner_id": "2", "runner_environment": "github-hosted"},
			},
			"resolvedDependencies": []any{map[string]any{
				"uri":    "git+" + server + "/" + p.Repository + "@" + p.Ref,
				"digest": map[string]any{"gitCommit": p.Commit},
			}},
		},
		"runDetails": map[string]any{
			"builder":  map[string]any{"id": p.BuilderID},
			"metadata": map[string]any{"invocationId": server + "/" + p.Repository + "/actions/runs/" + p.RunID + "/attempts/1"},
		},
	}
}

// SPDXDocument is a minimal SPDX 2.3 SBOM predicate.
func SPDXDocument(name string) map[string]any {
	return map[string]any{
		"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": name,
		"packages": []any{map[string]any{"SPDXID": "SPDXRef-Package-openssl", "name": "openssl", "versionInfo": "3.0.13"}},
	}
}

// CycloneDXBOM is a minimal CycloneDX 1.5 SBOM predicate.
func CycloneDXBOM() map[string]any {
	return map[string]any{
		"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
		"components": []any{map[string]any{"type": "library", "name": "openssl", "version": "3.0.13"}},
	}
}

// CosignVuln is a cosign vuln predicate (cosign attest --type vuln) for a
// scan that finished at finished.
func CosignVuln(finished time.Time, results any) map[string]any {
	return map[string]any{
		"invocation": map[string]any{"uri": "https://github.com/acme/app/actions/runs/1"},
		"scanner": map[string]any{
			"uri": "pkg:github/aquasecurity/trivy@0.50.0", "version": "0.50.0",
			"db":     map[string]any{"uri": "pkg:github/aquasecurity/trivy-db", "version": "2"},
			"result": results,
		},
		"metadata": map[string]any{
			"scanStartedOn":  finished.Add(-time.Minute).UTC().Format(time.RFC3339),
			"scanFinishedOn": finished.UTC().Format(time.RFC3339),
		},
	}
}
