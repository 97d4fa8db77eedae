package gatetest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitops-gate/gitops-gate/testdata"
)

// Demo is a running demonstration: a registry and Sigstore, a copy of a
// GitOps repository pointing at the registry, and a policy.
type Demo struct {
	World      *World
	RepoDir    string
	PolicyPath string
}

// demoImages are the images of testdata/repos/demo and how each is signed.
var demoImages = []struct {
	repoTag string
	signer  string // "", or the GitHub repository whose release workflow signs
}{
	{"demo/web:1.4.2", "acme/web"},
	{"demo/api:3.0.1", "acme/api"},
	{"demo/migrate:2.1.0", "evil-fork/migrate"}, // signed, by the wrong identity
	{"demo/cleanup:latest", ""},                 // never signed
}

// NewDemo starts a World in dir, pushes and signs the demo images, and
// copies repoSrc and policySrc into dir with registry.example.com replaced
// by the demo registry (the cleanup job is pinned to its real digest).
func NewDemo(ctx context.Context, dir, repoSrc, policySrc string) (*Demo, error) {
	pol, err := os.ReadFile(policySrc)
	if err != nil {
		return nil, fmt.Errorf("demo policy: %w", err)
	}
	if _, err := os.Stat(repoSrc); err != nil {
		return nil, fmt.Errorf("demo repository: %w", err)
	}
	return NewDemoFS(ctx, dir, os.DirFS(repoSrc), pol)
}

// NewEmbeddedDemo is NewDemo with the demo repository and policy built
// into the binary (package testdata), so it works from any directory.
func NewEmbeddedDemo(ctx context.Context, dir string) (*Demo, error) {
	return NewDemoFS(ctx, dir, testdata.DemoRepo(), testdata.DemoPolicy)
}

// NewDemoFS is NewDemo with the repository read from repo and the policy
// given (REGISTRY in it is replaced by the demo registry's address).
func NewDemoFS(ctx context.Context, dir string, repoFS fs.FS, policy []byte) (*Demo, error) {
	w, err := NewWorldIn(dir)
	if err != nil {
		return nil, err
	}
	replace := []string{"registry.example.com", w.Registry.Host}
	for _, im := range demoImages {
		d, err := w.PushImage(ctx, im.repoTag)
		if err != nil {
			w.Close()
			return nil, err
		}
		if im.signer != "" {
			if err := w.Sigstore.SignImage(ctx, d, SignOptions{Identity: IdentityFor(im.signer, "refs/tags/v"+strings.SplitN(im.repoTag, ":", 2)[1])}); err != nil {
				w.Close()
				return nil, err
			}
		}
		if strings.HasPrefix(im.repoTag, "demo/cleanup") {
			replace = append(replace, "@sha256:6a1c5b0e6f4a2b5cbb2c7f0b3b0e8d2f6e9c4f1d7a3b2c1d0e9f8a7b6c5d4e3f", "@"+d.DigestStr())
		}
	}
	r := strings.NewReplacer(replace...)
	repo := filepath.Join(dir, "repo")
	if err := copyTree(repoFS, repo, r); err != nil {
		w.Close()
		return nil, err
	}
	polPath := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(polPath, []byte(strings.ReplaceAll(string(policy), "REGISTRY", w.Registry.Host)), 0o644); err != nil {
		w.Close()
		return nil, err
	}
	return &Demo{World: w, RepoDir: repo, PolicyPath: polPath}, nil
}

func copyTree(src fs.FS, dst string, r *strings.Replacer) error {
	return fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(src, p)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		return os.WriteFile(target, []byte(r.Replace(string(data))), 0o644)
	})
}
