package policy

import (
	"context"
	"time"
)

// TypeAuto is the signature format of an ImageValidatingPolicy's cosign
// attestors: Kyverno looks for Sigstore bundles and falls back to classic
// cosign signatures, so every format the gate can fetch is read.
const TypeAuto = "Auto"

// Resource is the object an image occurrence is written in, as a rule is
// matched against it.
type Resource struct {
	APIVersion, Kind, Namespace, Name string
	// Object is the whole object, nil when the caller does not have it;
	// a rule that needs it (matchConditions, objectSelector, validations
	// reading object) then cannot decide, which is an error verdict.
	Object map[string]any
}

// Constraints decide whether a rule applies to a resource when its front-end
// matches on more than kinds and namespaces (an ImageValidatingPolicy's
// matchConstraints and matchConditions). direct: the rule applies to the
// resource itself; viaPods: as a Pod rule it judges the Pods the resource
// creates. An error says the rule cannot tell, and the gate fails closed.
type Constraints interface {
	Applies(ctx context.Context, res Resource) (direct, viaPods bool, err error)
}

// Program decides a verification by expressions (an ImageValidatingPolicy's
// CEL validations) instead of attestor sets. The engine runs it once per
// image occurrence with a Checker that verifies through the gate's own
// verifier: one evaluation path for every front-end.
type Program interface {
	// MatchImage is matchImageReferences on the reference as written.
	MatchImage(raw string) (bool, error)
	Run(ctx context.Context, in ProgramInput, c Checker) ProgramResult
}

// ImageExtractor is a Program that finds images of its own in an object
// (an IVPOL's images[] CEL extractors): category → image references.
type ImageExtractor interface {
	ExtractImages(ctx context.Context, res Resource) (map[string][]string, error)
	// Extracts says whether the program has extractors of its own: one
	// without them finds nothing, and is not asked.
	Extracts() bool
}

// ProgramInput is the image occurrence a Program judges.
type ProgramInput struct {
	// Image is the reference as written; Category is the images key
	// Kyverno's built-in extraction lists it under (containers,
	// initContainers, ephemeralContainers), "" for another field.
	Image    string
	Category string
	// Digest is what the image resolved to ("sha256:…").
	Digest   string
	Resource Resource
	Now      time.Time
}

// Checker verifies for a Program. Counts are the attestors that verified.
type Checker interface {
	Signatures(ctx context.Context, image string, attestors []*Attestor) (int, error)
	Attestations(ctx context.Context, image string, at *Attestation, attestors []*Attestor) (int, error)
	// Statement is the in-toto statement of at that an attestor verified
	// for image; an error when none was verified first in this evaluation.
	Statement(ctx context.Context, image string, at *Attestation) (map[string]any, error)
	ImageData(ctx context.Context, image string) (map[string]any, error)
}

// ProgramResult is a Program's verdict on one image occurrence.
type ProgramResult struct {
	// Pass: every validation held.
	Pass bool
	// Message is the failing validation's message (or messageExpression).
	Message string
	// Err is an operational error (registry, expression error, cost limit).
	Err error
	// Verified: a verification function verified this image with at least
	// one attestor; Attempted: one tried (validationConfigurations.required).
	Verified, Attempted bool
	// Excepted names the PolicyException that exempts the occurrence.
	Excepted string
	// Warnings are notes for the reader (e.g. a Kyverno version difference).
	Warnings []string
}

// Exception is a loaded exception, for listing (the UI shows expiry).
type Exception struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	File string `json:"file"`
	// Policies are the policies it names (kind/name).
	Policies  []string  `json:"policies"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"` // zero: never
	// Impl is the front-end's own value, for its Link.
	Impl any `json:"-"`
}

// Expired reports whether the exception no longer applies at now.
func (e *Exception) Expired(now time.Time) bool {
	return !e.ExpiresAt.IsZero() && now.After(e.ExpiresAt)
}
