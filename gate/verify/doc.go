// Package verify checks cosign signatures on an image digest against one
// attestor of a policy, offline: the Fulcio chain, the embedded SCT and the
// Rekor SET are verified against the gate's trust root (or a policy's inline
// PEMs); the only network traffic is to the registry, through the gate's
// resolver.
//
// Signatures are fetched once per digest (Fetch) from wherever cosign
// stores them: the sha256-<hex>.sig tag, OCI 1.1 referrers, and Sigstore
// bundles (cosign sign --new-bundle-format). Each attestor is then checked
// against that material (Check) without further registry requests.
//
// The configuration is cosign's production one, with the library's unsafe
// defaults closed: the claim verifier is always set (a signature copied to
// another digest is refused), Offline is set, and UseSignedTimestamps is
// never enabled (a hostile RFC 3161 timestamp crashes cosign v2.6.5 in a
// goroutine nobody can recover). Identity values use Kyverno's semantics:
// subject and issuer are wildcards matched whole, subjectRegExp and
// issuerRegExp are unanchored regular expressions, additionalExtensions are
// wildcards.
package verify
