// Package registry is the gate's only way to the network: it resolves image
// references to digests and hands cosign the same authenticated, bounded
// transport for fetching signatures.
//
// Tags resolve by HEAD with a GET fallback; a reference that carries a
// digest is checked to exist at that digest (go-containerregistry rejects a
// manifest whose content does not hash to the digest requested). Every
// request goes through one transport that limits concurrency per registry,
// bounds each request with a timeout, retries 429 and 5xx responses and
// dropped connections with exponential back-off (honouring Retry-After), and
// counts requests and errors per registry. Nothing is cached across calls to
// Resolve: a tag is resolved afresh each time it is asked for.
package registry
