// Package tree is the confined, cached view of a repository checkout that
// discovery and every renderer read through: paths are turned into
// repository-relative names for reports, absolute paths are refused,
// symlinks are resolved and must stay inside the root, files are bounded in
// size and their contents cached. It also holds the layout rules (which
// directory is a chart, a kustomization, a Jsonnet app) that discovery and
// the renderers share.
//
// Tree is an interface so that a caller can wrap reads (for instance to
// record the inputs of a render) without the renderers knowing.
package tree
