package gate

import (
	"time"

	"github.com/gitops-gate/gitops-gate/gate/policy/conditions"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// APIVersion versions the JSON shape of Report (docs/output.md).
const APIVersion = "gitops-gate.dev/v1alpha1"

// Status is the verdict on one image occurrence, or on a whole evaluation.
type Status string

const (
	StatusPass      Status = "pass"      // verified by the rules that apply
	StatusFail      Status = "fail"      // a rule that applies is not satisfied
	StatusError     Status = "error"     // the gate could not decide (registry, trust, input)
	StatusAudit     Status = "audit"     // an Audit rule is not satisfied: reported, not enforced
	StatusSkipped   Status = "skipped"   // skipImageReferences says so
	StatusUnmatched Status = "unmatched" // no rule applies: passes unverified
)

// Passing reports whether the status lets a change through.
func (s Status) Passing() bool {
	return s == StatusPass || s == StatusAudit || s == StatusSkipped || s == StatusUnmatched
}

// ImageVerdict is the verdict on one image occurrence.
type ImageVerdict struct {
	manifests.ImageRef
	// Normalized is the reference as Kyverno matches it.
	Normalized string `json:"normalized,omitempty"`
	// Digest is the digest that was verified (pin this, not the tag).
	Digest    string              `json:"digest,omitempty"`
	Platforms []registry.Platform `json:"platforms,omitempty"`
	Status    Status              `json:"status"`
	// Reason says why the image did not pass, in one line.
	Reason string `json:"reason,omitempty"`
	// Rule is policy/rule of the rule that decided; Attestor its attestor.
	Rule     string         `json:"rule,omitempty"`
	Attestor string         `json:"attestor,omitempty"`
	Signer   *verify.Signer `json:"signer,omitempty"`
	// Expected is what the deciding attestor wants, and FoundSigner the
	// identity a signature of the image was made by instead, for an image
	// that did not pass (both when known).
	Expected        *Expected      `json:"expected,omitempty"`
	FoundSigner     *verify.Signer `json:"foundSigner,omitempty"`
	SignatureFormat verify.Format  `json:"signatureFormat,omitempty"`
	Tlog            *verify.Tlog   `json:"tlog,omitempty"`
	// RFC3161Time is the signing time proven by a trusted timestamp
	// authority, when the rule ignores the transparency log.
	RFC3161Time *time.Time `json:"rfc3161Time,omitempty"`
	// Attestations are the in-toto attestations found and verified by the
	// rules' attestors: type, signer, format and, for SLSA provenance, the
	// builder and source (additive).
	Attestations []verify.Statement `json:"attestations,omitempty"`
	// FailedCondition is the attestation condition that was not met,
	// e.g. runDetails.builder.id: want X, got Y (additive).
	FailedCondition *conditions.Failure `json:"failedCondition,omitempty"`
	// MutateDigest says the rule wants the digest pinned (Kyverno's
	// mutateDigest), for `render --pin`.
	MutateDigest bool `json:"-"`
}

// Expected is what an attestor wants, in short: a keyless identity's
// issuer and subject (wildcards, or /regexp/), or a key.
type Expected struct {
	Issuer  string `json:"issuer,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Other is any other requirement in words (a key, certificate
	// extensions, n of m attestors).
	Other string `json:"other,omitempty"`
}

// AppVerdict is one app's verdicts.
type AppVerdict struct {
	Name string         `json:"name"`
	Path string         `json:"path"`
	Kind manifests.Kind `json:"kind"`
	// GeneratedBy names the ApplicationSet (and generator) that generated
	// the app; absent for apps written in the repository.
	GeneratedBy *manifests.GeneratedBy `json:"generatedBy,omitempty"`
	Error       string                 `json:"error,omitempty"`
	Images      []ImageVerdict         `json:"images"`
	// Warnings are image fields the gate does not judge: a string field
	// named image in a resource of a kind it has no extractor for. With
	// StrictUnknownImages each is a failed image instead.
	Warnings []manifests.Warning `json:"warnings,omitempty"`
	// Remote, Dependencies and ValueSources say what an app's fetched
	// files resolved to: the commit of another Git repository (of the app's
	// files or of its $ref value files), a chart's version and digest, or
	// an OCI artifact's tag and manifest digest (manifests.RemoteSource).
	Remote       *manifests.RemoteSource  `json:"remote,omitempty"`
	Dependencies []manifests.RemoteSource `json:"dependencies,omitempty"`
	ValueSources []manifests.RemoteSource `json:"valueSources,omitempty"`
	// CarriedOver says the app was not rendered again: its inputs are
	// unchanged since the base evaluation (Report.Rendering), whose
	// inventory entry it reuses. Its images were judged again all the same.
	CarriedOver bool `json:"carriedOver,omitempty"`
}

// Rendering modes (Rendering.Mode).
const (
	RenderFull        = "full"
	RenderIncremental = "incremental"
)

// Rendering says how the apps of an evaluation were obtained: every app
// rendered, or only those whose inputs changed since a base evaluation,
// the others carried over from it.
type Rendering struct {
	Mode        string `json:"mode"`
	Rendered    int    `json:"rendered"`
	CarriedOver int    `json:"carriedOver"`
	// Base is the evaluation the carried-over apps come from, BaseCommit
	// its commit (incremental mode).
	Base       string `json:"base,omitempty"`
	BaseCommit string `json:"baseCommit,omitempty"`
	// Reason says why every app was rendered (full mode).
	Reason string `json:"reason,omitempty"`
}

// Summary counts verdicts.
type Summary struct {
	Apps      int `json:"apps"`
	AppErrors int `json:"appErrors"`
	Images    int `json:"images"`
	Passed    int `json:"passed"`
	Failed    int `json:"failed"`
	Errors    int `json:"errors"`
	Audit     int `json:"audit"`
	Skipped   int `json:"skipped"`
	Unmatched int `json:"unmatched"`
	Warnings  int `json:"warnings,omitempty"`
}

// Report is the result of an evaluation.
type Report struct {
	APIVersion string       `json:"apiVersion"`
	Result     Status       `json:"result"` // pass, fail or error
	Apps       []AppVerdict `json:"apps"`
	Summary    Summary      `json:"summary"`
	// ProposedPins is set by the service when it proposes pins on a pull
	// request whose images passed but are not all pinned.
	ProposedPins *PinProposal `json:"proposedPins,omitempty"`
	// Rendering says how many apps were rendered and how many carried
	// over from a base evaluation (set by incremental evaluations).
	Rendering *Rendering `json:"rendering,omitempty"`
}

// AppsWith names the apps with an image of status st, in report order.
func (r *Report) AppsWith(st Status) []string {
	var out []string
	for _, a := range r.Apps {
		for _, im := range a.Images {
			if im.Status == st {
				out = append(out, a.Name)
				break
			}
		}
	}
	return out
}

// Recount recomputes the summary and result from the apps (after a
// report was narrowed to some of its apps).
func (r *Report) Recount() { r.finish() }

func (r *Report) finish() {
	s := Summary{Apps: len(r.Apps)}
	for _, a := range r.Apps {
		if a.Error != "" {
			s.AppErrors++
		}
		s.Warnings += len(a.Warnings)
		for _, im := range a.Images {
			s.Images++
			switch im.Status {
			case StatusPass:
				s.Passed++
			case StatusFail:
				s.Failed++
			case StatusError:
				s.Errors++
			case StatusAudit:
				s.Audit++
			case StatusSkipped:
				s.Skipped++
			case StatusUnmatched:
				s.Unmatched++
			}
		}
	}
	r.Summary = s
	// A definitive failure denies the change whatever else happened; an
	// error means the gate could not see everything, which is never a pass.
	switch {
	case s.Failed > 0:
		r.Result = StatusFail
	case s.Errors > 0 || s.AppErrors > 0:
		r.Result = StatusError
	default:
		r.Result = StatusPass
	}
}
