// Package model holds the small types every stage of manifests/ shares: an
// App and its Kind, a rendered Resource, the errors apps record, and the
// YAML node helpers that read objects safely (aliases followed, sizes
// bounded). It has no behaviour of its own and imports nothing of
// manifests/, so that discovery, the renderers, extraction and pinning can
// all depend on it and the arrows run one way.
package model
