// Package fakegithub is an in-process stand-in for GitHub's REST API, for
// tests and nothing else: commit statuses and issue comments (github.go),
// check runs with the limits GitHub enforces (checks.go), the artifact
// attestations API with paging, bundle URLs and rate limits (ghattest.go),
// and App JWT / installation-token exchange. It records what it received so
// a test can assert on what the gate posted. For check runs it refuses what
// GitHub would refuse, so a client that passes against the fake does not
// fail against GitHub for a reason the tests never saw.
//
// It is a package of its own, apart from gatetest's registry and Sigstore,
// because it is a separate job: a test that only needs the gate's GitHub
// client does not need the signing world, and vice versa.
package fakegithub
