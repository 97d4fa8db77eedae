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
// through the Repo they render with (Repo.rec): every read of a file goes
// through Repo.readFile, every listing and probe through the record
// helpers below.
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

// recording returns a view of r whose reads are recorded in rc. The view
// shares everything else (caches, fetched sources) with r.
func (r *Repo) recording(rc *recorder) *Repo {
	return &Repo{repoState: r.repoState, rec: rc}
}

// relInput is the repository-relative form of abs, or false for a path
// outside the repository (which no recorded input can stand for).
func (r *Repo) relInput(abs string) (string, bool) {
	abs = filepath.Clean(abs)
	if !within(r.root, abs) {
		return "", false
	}
	return r.rel(abs), true
}

// recordRead records a file read through readFile, with its outcome.
func (r *Repo) recordRead(abs string, data []byte, err error) {
	rc := r.rec
	if rc == nil {
		return
	}
	rel, ok := r.relInput(abs)
	if !ok {
		rc.markAlways(fmt.Sprintf("read %s, outside the repository", abs))
		return
	}
	h, herr := r.contentHash(abs, data, err)
	if herr != nil {
		rc.markAlways(fmt.Sprintf("reading %s: %v", rel, herr))
		return
	}
	rc.add(rel, InputFile, h)
}

// recordDir records the listing of directory abs (listed, walked, or the
// parent of a path probed).
func (r *Repo) recordDir(abs string) {
	rc := r.rec
	if rc == nil {
		return
	}
	rel, ok := r.relInput(abs)
	if !ok {
		rc.markAlways(fmt.Sprintf("listed %s, outside the repository", abs))
		return
	}
	h, err := r.listingHash(filepath.Clean(abs))
	if err != nil {
		rc.markAlways(fmt.Sprintf("listing %s: %v", rel, err))
		return
	}
	rc.add(rel, InputDir, h)
}

// recordProbe records that the renderer asked whether abs exists, or what
// it is (a file, a directory).
func (r *Repo) recordProbe(abs string) {
	rc := r.rec
	if rc == nil {
		return
	}
	rel, ok := r.relInput(abs)
	if !ok {
		rc.markAlways(fmt.Sprintf("looked for %s, outside the repository", abs))
		return
	}
	rc.add(rel, InputStat, statHash(filepath.Clean(abs)))
}

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

// recordDefinition records what defines the app besides its App: the
// repository's configuration (its image extractors apply to every app) and
// the file of the Application or .gitops-gate.yaml entry.
func (r *Repo) recordDefinition(app App) {
	if r.rec == nil {
		return
	}
	r.readFile(filepath.Join(r.root, ConfigFileName))
	if file, _, _ := strings.Cut(app.DefinedIn, ":"); file != "" && app.DefinedIn != definedByLayout {
		if abs, err := r.abs(file); err == nil {
			r.readFile(abs)
		}
	}
}

// recordAlways marks the app as always rendered: its inputs cannot be
// recorded exactly.
func (r *Repo) recordAlways(reason string) {
	if r.rec != nil {
		r.rec.markAlways(reason)
	}
}

// contentHash is the hash of a file's content as read; "" when it does not
// exist. Hashes are cached with the read cache's lifetime: many apps read
// one base.
func (r *Repo) contentHash(abs string, data []byte, err error) (string, error) {
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if v, ok := r.hashes.Load(abs); ok {
		return v.(string), nil
	}
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	r.hashes.Store(abs, h)
	return h, nil
}

// listingHash hashes a directory's entries, names and types; "" when it
// does not exist. Listings are cached: a checkout does not change while a
// Repo is in use.
func (r *Repo) listingHash(abs string) (string, error) {
	if v, ok := r.listings.Load(abs); ok {
		c := v.(cachedListing)
		return c.hash, c.err
	}
	h, err := listingHashUncached(abs)
	r.listings.Store(abs, cachedListing{h, err})
	return h, err
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
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s\x00%d\n", e.Name(), e.Type())
	}
	h := sha256.Sum256([]byte(b.String()))
	return "listing:" + hex.EncodeToString(h[:]), nil
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
		return r.listingHash(abs)
	case InputStat:
		return statHash(abs), nil
	case InputFile:
	default:
		return "", fmt.Errorf("input %s: unknown kind %q", in.Path, in.Kind)
	}
	data, err := r.readFile(abs)
	return r.contentHash(filepath.Clean(abs), data, err)
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
