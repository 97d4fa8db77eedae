// Package layout finds apps by the repository's layout, the rules that
// apply where no Argo CD Application or .gitops-gate.yaml says otherwise:
// it lists the tree once (directories in parallel), classifies each
// directory (a Helm chart, a kustomization and what it loads, plain
// manifests, Jsonnet) and notes the files that may hold Argo CD
// Applications.
package layout

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
)

// Options are what a scan reads through.
type Options struct {
	// ReadFile reads a repository file (confined and cached by the caller,
	// so that rendering does not read it again).
	ReadFile func(abs string) ([]byte, error)
	// Rel turns an absolute path into the repository-relative form of app
	// paths.
	Rel func(abs string) string
	// Listed, when set, receives each directory's listing as read,
	// concurrently.
	Listed func(dir string, entries []fs.DirEntry)
	// Concurrency bounds the directories and files read at once.
	Concurrency int
}

// Scan walks the repository at root.
func Scan(ctx context.Context, root string, o Options) (*Layout, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	return (&scanner{o: o, root: root}).scan(ctx)
}

type scanner struct {
	o    Options
	root string
}

// Layout is what a walk of the tree found. Paths are absolute, except the
// keys of MentionsApplication (repository-relative, as app paths are).
type Layout struct {
	Kustomizations      []string        // directories with a kustomization
	Charts              []string        // Helm chart directories
	PlainDirs           []string        // directories with Kubernetes-looking manifests
	JsonnetDirs         []string        // directories with Jsonnet and no manifests
	UsedByKustomize     map[string]bool // directories a kustomization loads from
	KustomizationFiles  []string        // the kustomization file of each of kustomizations
	ApplicationFiles    []string        // plain files that may hold Applications
	MentionsApplication map[string]bool // app path -> its files mention Applications
}

var (
	looksKubernetes = regexp.MustCompile(`(?m)(^|[{,\s"])"?(apiVersion|kind)"?\s*:`)
	mentionsApp     = regexp.MustCompile(`(?m)kind"?\s*:\s*"?Application(Set)?\b`)
)

// mentionsApplication and looksLikeKubernetes run their regexps only on
// files holding the literal each one needs: discovery classifies every
// manifest of the repository, and most mention no Application.
func mentionsApplication(data []byte) bool {
	return bytes.Contains(data, []byte("Application")) && mentionsApp.Match(data)
}

func looksLikeKubernetes(data []byte) bool {
	return (bytes.Contains(data, []byte("apiVersion")) || bytes.Contains(data, []byte("kind"))) && looksKubernetes.Match(data)
}

func (r *scanner) scan(ctx context.Context) (*Layout, error) {
	lay := &Layout{UsedByKustomize: map[string]bool{}, MentionsApplication: map[string]bool{}}
	root, err := r.listTree(ctx)
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", r.root, err)
	}
	r.walk(root, lay)
	// Reading and parsing every kustomization for what it loads is most
	// of a large repository's discovery: in parallel, after the walk.
	used := make([][]string, len(lay.KustomizationFiles))
	sem := make(chan struct{}, r.o.Concurrency)
	var wg sync.WaitGroup
	for i, kf := range lay.KustomizationFiles {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			used[i] = r.kustomizeUses(kf)
		}()
	}
	wg.Wait()
	for _, u := range used {
		for _, p := range u {
			lay.UsedByKustomize[p] = true
		}
	}
	return lay, nil
}

// listedDir is one directory of the tree as discovery reads it: its
// listing, and what the heads of its manifest files say.
type listedDir struct {
	dir     string
	entries []fs.DirEntry
	// chart: the directory holds a Chart.yaml (nothing below it is
	// listed); chartMentions: one of its files mentions an Application.
	chart, chartMentions bool
	// heads classify the manifest files, by entry index.
	heads map[int]headClass
	// children are the listed subdirectories, by entry index.
	children map[int]*listedDir
}

type headClass struct{ mentionsApp, kubernetes bool }

// listTree lists the repository and reads the head of every manifest
// file, directories in parallel: on a monorepo these are thousands of
// system calls that need not wait on one another. walk then
// classifies the listing in one ordered pass.
func (r *scanner) listTree(ctx context.Context) (*listedDir, error) {
	// A fixed number of workers drain a stack of directories to list: a
	// goroutine per directory, waiting for a slot, would be thousands of
	// goroutines and their stacks for a pull request that adds thousands
	// of directories side by side.
	root := &listedDir{dir: r.root}
	var mu sync.Mutex
	more := sync.NewCond(&mu)
	todo := []*listedDir{root}
	pending := 1 // directories queued or being listed
	var firstErr error
	var wg sync.WaitGroup
	for range max(r.o.Concurrency, 4) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for len(todo) == 0 && pending > 0 {
					more.Wait()
				}
				if pending == 0 {
					mu.Unlock()
					return
				}
				d := todo[len(todo)-1]
				todo = todo[:len(todo)-1]
				mu.Unlock()
				sub, err := r.listDir(ctx, d)
				mu.Lock()
				firstErr = cmp.Or(firstErr, err)
				todo = append(todo, sub...)
				pending += len(sub) - 1
				mu.Unlock()
				more.Broadcast()
			}
		}()
	}
	wg.Wait()
	return root, firstErr
}

// listDir lists one directory of the tree, reads the heads of its manifest
// files, and returns its subdirectories to list.
func (r *scanner) listDir(ctx context.Context, d *listedDir) ([]*listedDir, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, nil // unreadable directories surface when an app that needs them renders
	}
	d.entries = entries
	if r.o.Listed != nil {
		r.o.Listed(d.dir, entries)
	}
	for _, e := range entries {
		if e.Name() == "Chart.yaml" && !e.IsDir() {
			d.chart, d.chartMentions = true, r.dirMentions(d.dir, true)
			return nil, nil // templates are not plain manifests
		}
	}
	var sub []*listedDir
	for i, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(d.dir, name)
		if e.IsDir() {
			c := &listedDir{dir: p}
			if d.children == nil {
				d.children = map[int]*listedDir{}
			}
			d.children[i] = c
			sub = append(sub, c)
			continue
		}
		if tree.IsManifestFile(name) {
			head := r.head(p)
			if d.heads == nil {
				d.heads = map[int]headClass{}
			}
			d.heads[i] = headClass{mentionsApp: mentionsApplication(head), kubernetes: looksLikeKubernetes(head)}
		}
	}
	return sub, nil
}

// walk classifies a listed directory and, in order, its
// subdirectories.
func (r *scanner) walk(d *listedDir, lay *Layout) {
	if d.entries == nil {
		return
	}
	if d.chart {
		lay.Charts = append(lay.Charts, d.dir)
		if d.chartMentions {
			lay.MentionsApplication[r.o.Rel(d.dir)] = true
		}
		return
	}
	names := make(map[string]fs.DirEntry, len(d.entries))
	for _, e := range d.entries {
		names[e.Name()] = e
	}
	isKust := false
	for _, n := range tree.KustomizationFileNames {
		if e, ok := names[n]; ok && !e.IsDir() {
			isKust = true
			lay.Kustomizations = append(lay.Kustomizations, d.dir)
			lay.KustomizationFiles = append(lay.KustomizationFiles, filepath.Join(d.dir, n))
			break
		}
	}
	plain, jsonnet := false, false
	for i, e := range d.entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if e.IsDir() {
			if c := d.children[i]; c != nil {
				r.walk(c, lay)
			}
			continue
		}
		switch {
		case filepath.Ext(name) == ".jsonnet":
			jsonnet = true
		case tree.IsManifestFile(name):
			h := d.heads[i]
			if h.mentionsApp {
				if isKust {
					lay.MentionsApplication[r.o.Rel(d.dir)] = true
				} else {
					lay.ApplicationFiles = append(lay.ApplicationFiles, filepath.Join(d.dir, name))
				}
			}
			plain = plain || (!isKust && h.kubernetes)
		}
	}
	if plain {
		lay.PlainDirs = append(lay.PlainDirs, d.dir)
	}
	if jsonnet && !plain && !isKust {
		lay.JsonnetDirs = append(lay.JsonnetDirs, d.dir)
	}
}

// head returns the file's content for classification, or nil when it
// cannot be read (the error surfaces when the app that holds it renders).
// It reads through the cache, so rendering does not read the file again.
func (r *scanner) head(p string) []byte {
	data, err := r.o.ReadFile(p)
	if err != nil {
		return nil
	}
	return data
}

func (r *scanner) dirMentions(dir string, recursive bool) bool {
	found := false
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found {
			return fs.SkipAll
		}
		if d.IsDir() {
			if p != dir && !recursive {
				return fs.SkipDir
			}
			return nil
		}
		if tree.IsManifestFile(d.Name()) || strings.HasSuffix(d.Name(), ".tpl") {
			found = mentionsApplication(r.head(p))
		}
		return nil
	})
	return found
}

// kustomizeUses are the directories a kustomization loads from (a file
// entry marks its directory with "/*"):
// they are bases or parts of it, not apps of their own.
func (r *scanner) kustomizeUses(kfile string) []string {
	data, err := r.o.ReadFile(kfile)
	if err != nil {
		return nil
	}
	var used []string
	dir := filepath.Dir(kfile)
	for _, s := range kustomizeEntries(data) {
		p := filepath.Join(dir, filepath.FromSlash(s))
		if st, err := os.Stat(p); err == nil {
			if st.IsDir() {
				used = append(used, p)
			} else {
				used = append(used, filepath.Dir(p)+string(filepath.Separator)+"*")
			}
		}
	}
	return used
}

// kustomizeEntries are the resources, bases, components and crds a
// kustomization file lists. They depend on its content alone, so they are
// kept by content hash: a service evaluating commit after commit of one
// monorepo parses each distinct kustomization once.
func kustomizeEntries(data []byte) []string {
	key := sha256.Sum256(data)
	if entries, ok := kustomizeEntryCache.load(key); ok {
		return entries
	}
	var doc yaml.Node
	var entries []string
	if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) > 0 {
		for _, f := range []string{"resources", "bases", "components", "crds"} {
			seq := model.MapGet(doc.Content[0], f)
			if seq == nil || seq.Kind != yaml.SequenceNode {
				continue
			}
			for _, n := range seq.Content {
				if s, ok := model.ScalarString(n); ok {
					entries = append(entries, s)
				}
			}
		}
	}
	kustomizeEntryCache.store(key, entries)
	return entries
}

// The cache lives as long as the process and holds what the authors of the
// repositories under review wrote: it is bounded in bytes as well as in
// entries, and a kustomization too large to keep is parsed every time
// (one file of 4 MiB listing short paths is tens of MiB of strings).
// (Variables so that a test can lower them.)
var (
	maxKustomizeEntryCache            = 100_000
	maxKustomizeEntryCacheBytes int64 = 32 << 20
	maxCachedKustomizationBytes int64 = 256 << 10
)

var kustomizeEntryCache entryCache

// entryCache maps a kustomization's content hash to its entries, with
// what they hold counted under one lock, so concurrent discoveries can
// neither overshoot the bound nor lose count of what is held.
type entryCache struct {
	mu    sync.RWMutex
	m     map[[sha256.Size]byte][]string
	bytes int64
}

func (c *entryCache) load(key [sha256.Size]byte) ([]string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.m[key]
	return e, ok
}

func (c *entryCache) store(key [sha256.Size]byte, entries []string) {
	size := entriesSize(entries)
	if size > maxCachedKustomizationBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		return
	}
	if c.m == nil || len(c.m) >= maxKustomizeEntryCache || c.bytes+size > maxKustomizeEntryCacheBytes {
		// Start over rather than grow with every commit's edits.
		c.m, c.bytes = map[[sha256.Size]byte][]string{}, 0
	}
	c.m[key] = entries
	c.bytes += size
}

// entriesSize is what entries hold in memory, with the map entry: string
// headers and bytes (an alias repeated shares its bytes; counted each time,
// the bound errs on the safe side).
func entriesSize(entries []string) int64 {
	n := int64(sha256.Size + 24 + 16*cap(entries))
	for _, s := range entries {
		n += int64(len(s))
	}
	return n
}
