package manifests

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/gitops-gate/gitops-gate/manifests/tree"
)

// Input is one thing a renderer read while rendering an app: a file, by
// the hash of its content; a directory it listed or walked, by the hash of
// its listing (names and types), so that a file added to or removed from
// it counts as a change; or a path it only asked about (does it exist, is
// it a directory), by what it is. Hash is "" for a path that did not
// exist: its appearing is a change too.
type Input struct {
	// Path is repository-relative and slash-separated ("." for the root).
	Path string    `json:"path"`
	Kind InputKind `json:"kind,omitempty"`
	Hash string    `json:"hash"`
}

// InputKind says what of a path an Input stands for.
type InputKind string

// The kinds of input.
const (
	InputFile InputKind = ""     // the file's content
	InputDir  InputKind = "dir"  // the directory's listing
	InputStat InputKind = "stat" // whether the path exists, and as what
)

// InputSet is everything an app's rendering and extraction read. Always,
// when set, says why the set is not known to be complete (files fetched
// from elsewhere, a read that failed), and so why the app must be rendered
// every time.
type InputSet struct {
	Inputs []Input
	Always string
}

// recorder collects one app's inputs while it renders. Renderers reach it
// through the tree they read with (recordingTree): every read of a file,
// and every listing and probe they report (tree.Recorder).
type recorder struct {
	mu     sync.Mutex
	inputs map[inputKey]string // -> hash
	always string
}

type inputKey struct {
	path string
	kind InputKind
}

func newRecorder() *recorder {
	return &recorder{inputs: map[inputKey]string{}}
}

func (rc *recorder) add(rel string, kind InputKind, hash string) {
	rc.mu.Lock()
	rc.inputs[inputKey{rel, kind}] = hash
	rc.mu.Unlock()
}

// set returns the inputs recorded so far, sorted.
func (rc *recorder) set() *InputSet {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	s := &InputSet{Always: rc.always, Inputs: make([]Input, 0, len(rc.inputs))}
	for k, h := range rc.inputs {
		s.Inputs = append(s.Inputs, Input{Path: k.path, Kind: k.kind, Hash: h})
	}
	sort.Slice(s.Inputs, func(i, j int) bool {
		if s.Inputs[i].Path != s.Inputs[j].Path {
			return s.Inputs[i].Path < s.Inputs[j].Path
		}
		return s.Inputs[i].Kind < s.Inputs[j].Kind
	})
	return s
}

func (rc *recorder) markAlways(reason string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.always == "" {
		rc.always = reason
	}
}

// recordingTree is the checkout as one app's renderers see it: every read
// goes to the Repo's tree and is recorded, with the listings, probes and
// unrecordable dependencies the renderers report (tree.Recorder).
type recordingTree struct {
	tree.Tree
	rc    *recorder
	cache *inputCache
}

var _ tree.Recorder = (*recordingTree)(nil)

// inputCache holds, for one Repo, the hashes inputs are recorded and
// checked with: a checkout does not change while a Repo is in use, and
// many apps read one base.
type inputCache struct {
	listings sync.Map // abs -> cachedListing
	hashes   sync.Map // abs -> string
	// entries are the directory listings discovery read (abs ->
	// []fs.DirEntry), and snapshots the hashes recorded inputs are
	// checked against (abs -> cachedListing): checking a recorded listing
	// then needs no second read. Neither is what a rendered app records:
	// its files come from a listing made when it renders, and a checkout
	// changed in between would have it record a directory it did not
	// render.
	entries   sync.Map
	snapshots sync.Map
	// folds are the listings in entries as case-insensitive lookups see
	// them (abs -> *foldedListing), built when a probe first needs one.
	folds sync.Map
	// stat is what a probe's answer is asked of the disk with (nil:
	// statHash); a test stands a case-insensitive file system in.
	stat func(abs string) string
}

func (r *Repo) recordingTree(rc *recorder) *recordingTree {
	return &recordingTree{Tree: r.files, rc: rc, cache: &r.inputs}
}

// relInput is the repository-relative form of abs, or false for a path
// outside the repository (which no recorded input can stand for).
func (t *recordingTree) relInput(abs string) (string, bool) {
	abs = filepath.Clean(abs)
	if !tree.Within(t.Root(), abs) {
		return "", false
	}
	return t.Rel(abs), true
}

// ReadFile reads through the tree and records the file with its outcome.
func (t *recordingTree) ReadFile(abs string) ([]byte, error) {
	data, err := t.Tree.ReadFile(abs)
	rel, ok := t.relInput(abs)
	if !ok {
		t.rc.markAlways(fmt.Sprintf("read %s, outside the repository", abs))
		return data, err
	}
	h, herr := t.cache.contentHash(filepath.Clean(abs), data, err)
	if herr != nil {
		t.rc.markAlways(fmt.Sprintf("reading %s: %v", rel, herr))
		return data, err
	}
	t.rc.add(rel, InputFile, h)
	return data, err
}

// RecordDir records the listing of directory abs (listed, walked).
func (t *recordingTree) RecordDir(abs string) {
	rel, ok := t.relInput(abs)
	if !ok {
		t.rc.markAlways(fmt.Sprintf("listed %s, outside the repository", abs))
		return
	}
	h, err := t.cache.listingHash(filepath.Clean(abs))
	if err != nil {
		t.rc.markAlways(fmt.Sprintf("listing %s: %v", rel, err))
		return
	}
	t.rc.add(rel, InputDir, h)
}

// RecordProbe records that a renderer asked whether abs exists, or what it
// is (a file, a directory).
func (t *recordingTree) RecordProbe(abs string) {
	rel, ok := t.relInput(abs)
	if !ok {
		t.rc.markAlways(fmt.Sprintf("looked for %s, outside the repository", abs))
		return
	}
	t.rc.add(rel, InputStat, statHash(filepath.Clean(abs)))
}

// RecordAlways marks the app as always rendered: its inputs cannot be
// recorded exactly.
func (t *recordingTree) RecordAlways(reason string) { t.rc.markAlways(reason) }

// statHash is what a path is, following symlinks as the renderers' probes
// do: "" when it does not exist.
func statHash(abs string) string {
	st, err := os.Stat(abs)
	switch {
	case err != nil:
		return ""
	case st.IsDir():
		return "dir"
	case st.Mode().IsRegular():
		return "file"
	}
	return "other"
}

// currentStatHash is statHash answered from discovery's listing of abs's
// directory when it has one: every app probes for files (kustomization
// names, Argo CD's .argocd-source files) that mostly do not exist, and on
// a monorepo those were thousands of system calls an evaluation. A
// symlink, or a directory discovery did not list, is asked of the disk.
//
// The listing says a name is absent only when no other spelling of it
// could be found by os.Stat, which the renderer's probe and the recorded
// input use: on a case-insensitive file system (macOS, Windows, a
// casefolded Linux directory, a CIFS or vfat mount) "Kustomization" finds
// "kustomization", and NFD normalization or Windows short names find
// other spellings again. Where the name or any entry of the directory
// could alias (see mayAlias, foldedListing), the disk is asked.
func (c *inputCache) currentStatHash(abs string) string {
	stat := c.stat
	if stat == nil {
		stat = statHash
	}
	dir := filepath.Dir(abs)
	v, ok := c.entries.Load(dir)
	if !ok {
		return stat(abs)
	}
	entries, name := v.([]fs.DirEntry), filepath.Base(abs)
	i := sort.Search(len(entries), func(i int) bool { return entries[i].Name() >= name })
	switch {
	case i == len(entries) || entries[i].Name() != name:
		if mayAlias(name) || c.folded(dir, entries).aliases(name) {
			return stat(abs)
		}
		return ""
	case entries[i].Type()&fs.ModeSymlink != 0:
		return stat(abs)
	case entries[i].IsDir():
		return "dir"
	case entries[i].Type().IsRegular():
		return "file"
	}
	return "other"
}

// mayAlias reports whether a lookup of name could find an entry spelled
// otherwise on some file system, whatever the directory holds: a name
// outside plain ASCII (Unicode case folding and normalization), or one
// Windows resolves to another file (a short name with "~", a stream after
// ":", trailing dots and spaces dropped).
func mayAlias(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 || name[i] < 0x20 {
			return true
		}
	}
	return strings.ContainsAny(name, "~:\\") || strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ")
}

// foldedListing is a listed directory's names as a case-insensitive
// lookup would see them: lower-cased; unusual when some name could alias
// another spelling (mayAlias: the Kelvin sign folds to "k", a long s to
// "s", a short name stands for a long one).
type foldedListing struct {
	lower   map[string]bool
	unusual bool
}

func (c *inputCache) folded(dir string, entries []fs.DirEntry) *foldedListing {
	if v, ok := c.folds.Load(dir); ok {
		return v.(*foldedListing)
	}
	f := &foldedListing{lower: make(map[string]bool, len(entries))}
	for _, e := range entries {
		n := e.Name()
		if mayAlias(n) {
			f.unusual = true
		}
		f.lower[strings.ToLower(n)] = true
	}
	v, _ := c.folds.LoadOrStore(dir, f)
	return v.(*foldedListing)
}

// aliases reports whether a case-insensitive lookup of name (absent by
// that exact spelling) could find an entry.
func (f *foldedListing) aliases(name string) bool {
	return f.unusual || f.lower[strings.ToLower(name)]
}

// recordDefinition records what defines the app besides its App: the
// repository's configuration (its image extractors apply to every app) and
// the file of the Application or .gitops-gate.yaml entry.
func (r *Repo) recordDefinition(t *recordingTree, app App) {
	t.ReadFile(filepath.Join(r.root, ConfigFileName))
	if file, _, _ := strings.Cut(app.DefinedIn, ":"); file != "" && app.DefinedIn != definedByLayout {
		if abs, err := r.abs(file); err == nil {
			t.ReadFile(abs)
		}
	}
}

// contentHash is the hash of a file's content as read; "" when it does not
// exist. Hashes are cached with the read cache's lifetime: many apps read
// one base.
func (c *inputCache) contentHash(abs string, data []byte, err error) (string, error) {
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if v, ok := c.hashes.Load(abs); ok {
		return v.(string), nil
	}
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	c.hashes.Store(abs, h)
	return h, nil
}

// listingHash hashes a directory's entries, names and types; "" when it
// does not exist. It is what a rendered app records: read when first
// recorded, not taken from discovery. Listings are cached: a checkout does
// not change while a Repo is in use.
func (c *inputCache) listingHash(abs string) (string, error) {
	if v, ok := c.listings.Load(abs); ok {
		l := v.(cachedListing)
		return l.hash, l.err
	}
	h, err := listingHashUncached(abs)
	c.listings.Store(abs, cachedListing{h, err})
	return h, err
}

// currentListingHash is listingHash for checking a recorded input against
// this checkout: discovery's listing serves when it has one. Its results
// are kept apart from listingHash's, so a listing read to check an app
// before rendering starts is not what a rendered app records either.
func (c *inputCache) currentListingHash(abs string) (string, error) {
	if v, ok := c.snapshots.Load(abs); ok {
		l := v.(cachedListing)
		return l.hash, l.err
	}
	var l cachedListing
	if v, ok := c.entries.Load(abs); ok {
		l.hash = hashListing(abs, v.([]fs.DirEntry))
	} else {
		l.hash, l.err = listingHashUncached(abs)
	}
	c.snapshots.Store(abs, l)
	return l.hash, l.err
}

type cachedListing struct {
	hash string
	err  error
}

func listingHashUncached(abs string) (string, error) {
	entries, err := os.ReadDir(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return hashListing(abs, entries), nil
}

// hashListing hashes the entries of the directory abs.
func hashListing(abs string, entries []fs.DirEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s\x00%d", e.Name(), e.Type())
		if e.Type()&fs.ModeSymlink != 0 {
			// A renderer may skip a link without reading through it (one
			// to a directory, or dangling): its target and what the target
			// is now are the link's content, so retargeting it or creating
			// the missing target changes the listing.
			p := filepath.Join(abs, e.Name())
			target, _ := os.Readlink(p)
			fmt.Fprintf(&b, "\x00%s\x00%s", target, statHash(p))
		}
		b.WriteByte('\n')
	}
	h := sha256.Sum256([]byte(b.String()))
	return "listing:" + hex.EncodeToString(h[:])
}

// InputHash hashes an input as it is in this checkout, the way rendering
// hashed it when it read it: a later evaluation compares the two to know
// whether an app's inputs changed.
func (r *Repo) InputHash(in Input) (string, error) {
	abs, err := r.abs(in.Path)
	if err != nil {
		return "", err
	}
	switch in.Kind {
	case InputDir:
		return r.inputs.currentListingHash(abs)
	case InputStat:
		return r.inputs.currentStatHash(filepath.Clean(abs)), nil
	case InputFile:
	default:
		return "", fmt.Errorf("input %s: unknown kind %q", in.Path, in.Kind)
	}
	data, err := r.readFile(abs)
	return r.inputs.contentHash(filepath.Clean(abs), data, err)
}

// Settings are the options that decide what rendering produces, in a form
// to hash: incremental evaluation renders every app again when they differ
// from an earlier scan's. Every field counts except those that only carry
// clients or bound parallelism; a field added to Options counts unless it
// is left out here.
func (o Options) Settings() any {
	o = o.withDefaults()
	o.Concurrency, o.Logger = 0, nil
	s := struct {
		Options
		Sandbox         *[3]int64 `json:",omitempty"`
		Sources, Charts bool
	}{Sources: o.Sources != nil, Charts: o.Charts != nil}
	if h := o.HelmSandbox; h != nil {
		s.Sandbox = &[3]int64{int64(h.Timeout), h.MemoryLimit, h.MaxOutput}
	}
	o.HelmSandbox, o.Sources, o.Charts = nil, nil, nil
	s.Options = o
	return s
}
