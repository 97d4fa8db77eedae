// Package incremental decides which apps of a commit are rendered again and
// which are carried over from a base evaluation, so that a pull request
// costs what it changes rather than what the repository holds.
//
// Every rendered app leaves a Record entry: its inventory entry (images,
// warnings, error), the hash of the App that discovery produced for it (the
// Application, ApplicationSet element or layout entry that defines it), and
// its input set, the repository files and directory listings the renderer
// read, each with a content hash. An app of the head commit is carried over
// only when the base has an entry with the same definition hash, that entry
// is not marked always-render, and every input hashes on the head checkout
// to what it hashed when the base rendered it. Anything else is rendered:
// new apps, changed definitions, changed inputs, apps with errors, apps
// whose files came from elsewhere (remote sources, fetched charts).
//
// The input set is checked against the head checkout itself, not against a
// list of changed paths: what decides is exactly what the renderer saw, so a
// symlink retargeted, a file added to a listed directory or a base from any
// earlier commit can never make a stale entry look current. The base may be
// any earlier evaluation of the repository (the pull request's base commit
// is merely the one most likely to share inputs).
//
// The whole base is ignored, and every app rendered, when the caller asks
// (Options.Full: --full, incremental: false), when there is no base, or when
// the base's Fingerprint differs: another gate build, other policies, or
// other rendering settings (Kubernetes version, API versions, allow-lists,
// limits, extractors).
//
// Only rendering and extraction are skipped. Carried-over images are judged
// again like all others: tags are resolved again (a moved tag is caught)
// and verification results come from the verification cache.
package incremental
