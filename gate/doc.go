// Package gate decides. Given the image references of a repository (from
// package manifests) and the gate's policies, Evaluate resolves every unique
// reference once, verifies each digest's signatures once per attestor, and
// gives every occurrence a verdict: pass, fail, error, audit, skipped or
// unmatched, with the digest it pinned, the rule and attestor that decided,
// who signed, and for anything but pass one line a person can act on.
//
// It fails closed: a registry error, a timeout, a missing trust root, an
// unusable image field or an app that could not be rendered make the overall
// result non-passing. An image no rule matches passes unverified and is
// listed as unmatched (RequireMatch makes it fail).
//
// Sub-packages: imageref (Kyverno's reference semantics), policy (Kyverno
// verifyImages loading and matching), registry (resolution and the shared
// transport), verify (cosign), cache (verification results), incremental
// (which apps of a commit are rendered again, which carried over), gatetest (the
// test registry and Sigstore).
package gate
