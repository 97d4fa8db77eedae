package incremental

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/gitops-gate/gitops-gate/manifests"
)

// FormatVersion versions what a Record means: bump it whenever recording
// changes (a renderer reads a new kind of input), so that no record made
// under the old rules is trusted by the new ones.
const FormatVersion = 1

// Input is one thing a renderer read (manifests.Input).
type Input = manifests.Input

// Fingerprint is everything besides the repository's files that decides
// what rendering produces. Two evaluations with different fingerprints
// share nothing.
type Fingerprint struct {
	// Gate is the gate's build and FormatVersion.
	Gate string `json:"gate"`
	// Policies is the digest of the policies the engine judges with.
	Policies string `json:"policies"`
	// Rendering is the digest of the rendering settings: Kubernetes and
	// API versions, allow-lists, limits, image extractors, Argo CD
	// namespace and clusters, revisions.
	Rendering string `json:"rendering"`
}

// Change says, in words, why a base with fingerprint base cannot be used
// under f; "" when they are the same.
func (f Fingerprint) Change(base Fingerprint) string {
	var what []string
	if f.Gate != base.Gate {
		what = append(what, "the gate's version")
	}
	if f.Policies != base.Policies {
		what = append(what, "the policies")
	}
	if f.Rendering != base.Rendering {
		what = append(what, "the rendering settings")
	}
	if len(what) == 0 {
		return ""
	}
	return strings.Join(what, ", ") + " changed since the base evaluation"
}

// Digest is the sha256 of v's JSON, for Fingerprint parts and definitions.
func Digest(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// An unhashable value never equals anything: the app is rendered.
		return "unhashable:" + err.Error()
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Record is what an evaluation leaves for the next one: every app's
// inventory entry with what it was rendered from.
type Record struct {
	Version     int         `json:"version"`
	Fingerprint Fingerprint `json:"fingerprint"`
	Apps        []AppRecord `json:"apps"`
}

// AppRecord is one app of a Record.
type AppRecord struct {
	// Definition is the hash of the App discovery produced (Definition).
	Definition string `json:"definition"`
	// Inputs are the files and directory listings the renderer read.
	Inputs []Input `json:"inputs,omitempty"`
	// Always, when set, says why the app is never carried over.
	Always string              `json:"always,omitempty"`
	Entry  manifests.AppImages `json:"entry"`
	// Objects are the rendered objects the app's images are written in,
	// recorded when the policies read them (an ImageValidatingPolicy's
	// matchConstraints, matchConditions and CEL): a carried-over app is
	// judged on them as if it had been rendered again. ObjectsRecorded
	// tells an app with no such object from a record made without them.
	Objects         []Object `json:"objects,omitempty"`
	ObjectsRecorded bool     `json:"objectsRecorded,omitempty"`
}

// Object is one rendered object of an app, as YAML: decoding it again
// gives the values rendering gave (an integer stays an integer, a quoted
// "1" a string), which a JSON round trip would not.
type Object struct {
	Resource manifests.ResourceID `json:"resource"`
	YAML     string               `json:"yaml"`
}

// Definition is the hash of an app as discovery produced it: name, path,
// kind and every rendering option its Application, ApplicationSet element,
// .gitops-gate.yaml entry or layout gave it.
func Definition(app manifests.App) string {
	return Digest(app)
}

// NewRecord records a rendered inventory under fp. Every app must carry its
// discovered definition (AppImages.Source); one without it is recorded as
// always rendered. objects, when not nil, holds each app's objects by app
// name (Options.NeedObjects); an app missing from it is recorded without.
func NewRecord(fp Fingerprint, inv *manifests.Inventory, objects map[string][]Object) *Record {
	rec := &Record{Version: FormatVersion, Fingerprint: fp, Apps: make([]AppRecord, 0, len(inv.Apps))}
	for _, a := range inv.Apps {
		ar := AppRecord{Entry: a}
		if objs, ok := objects[a.Name]; ok {
			ar.Objects, ar.ObjectsRecorded = objs, true
		}
		ar.Entry.CarriedOver = false
		ar.Entry.Source, ar.Entry.Inputs = nil, nil
		switch {
		case a.Source == nil:
			ar.Always = "no definition recorded"
		case a.Inputs == nil:
			ar.Always = "no input set recorded"
		case a.Inputs.Always != "":
			ar.Always = a.Inputs.Always
		case a.Error != "":
			// An error may be transient (a timeout under load): render it
			// again rather than keep it.
			ar.Always = "the app had an error"
		}
		if a.Source != nil {
			ar.Definition = Definition(*a.Source)
		}
		if a.Inputs != nil {
			ar.Inputs = a.Inputs.Inputs
		}
		rec.Apps = append(rec.Apps, ar)
	}
	return rec
}

// Encode writes a record as gzip-compressed JSON, the form the store keeps.
func Encode(rec *Record) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(rec); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxRecordBytes bounds a decompressed record (a 5,000-app record is a
// few MiB).
const maxRecordBytes = 512 << 20

// Decode reads what Encode wrote.
func Decode(data []byte) (*Record, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("inventory record: %w", err)
	}
	var rec Record
	if err := json.NewDecoder(io.LimitReader(zr, maxRecordBytes)).Decode(&rec); err != nil {
		return nil, fmt.Errorf("inventory record: %w", err)
	}
	return &rec, nil
}

// Checker hashes an input as it is on the head checkout, the way the
// renderer hashed it when it read it (manifests.Repo.InputHash).
type Checker interface {
	InputHash(in Input) (string, error)
}

// Options configure a Planner.
type Options struct {
	// Base is the base evaluation's record; nil renders everything.
	Base *Record
	// Fingerprint is the head evaluation's.
	Fingerprint Fingerprint
	// Full renders every app whatever the base (--full, incremental: false);
	// FullReason says why when it is not because the caller asked.
	Full       bool
	FullReason string
	// NeedObjects carries an app over only with its recorded objects
	// (Objects): the policies read them.
	NeedObjects bool
}

// Planner decides, app by app, whether an app of the head commit is carried
// over from the base. It is safe for concurrent use.
type Planner struct {
	full        string // why everything is rendered; "" when incremental
	base        map[string]*AppRecord
	hashes      sync.Map // input key -> memoHash
	needObjects bool
	objects     sync.Map // app name -> []Object of a carried-over app

	mu               sync.Mutex
	rendered, reused int
}

type memoHash struct {
	once sync.Once
	hash string
	err  error
}

// NewPlanner decides whether the base can be used at all.
func NewPlanner(o Options) *Planner {
	p := &Planner{needObjects: o.NeedObjects}
	switch {
	case o.Full && o.FullReason != "":
		p.full = o.FullReason
	case o.Full:
		p.full = "a full render was asked for"
	case o.Base == nil:
		p.full = "no earlier evaluation of this repository to start from"
	case o.Base.Version != FormatVersion:
		p.full = fmt.Sprintf("the base evaluation was recorded in format %d, this gate records format %d", o.Base.Version, FormatVersion)
	default:
		p.full = o.Fingerprint.Change(o.Base.Fingerprint)
	}
	if p.full != "" {
		return p
	}
	p.base = make(map[string]*AppRecord, len(o.Base.Apps))
	dup := map[string]bool{}
	for i := range o.Base.Apps {
		a := &o.Base.Apps[i]
		if a.Definition == "" || a.Always != "" {
			continue
		}
		if _, ok := p.base[a.Definition]; ok {
			// Two apps of one definition cannot be told apart: neither is
			// carried over.
			dup[a.Definition] = true
		}
		p.base[a.Definition] = a
	}
	for d := range dup {
		delete(p.base, d)
	}
	return p
}

// FullReason says why every app is rendered; "" when the base is used.
func (p *Planner) FullReason() string { return p.full }

// Reuse returns the base's entry for app, marked carried over and holding
// its input set, when the base has an entry of the same definition whose
// every input is unchanged on the head checkout. It counts the app as
// rendered otherwise.
func (p *Planner) Reuse(app manifests.App, check Checker) (manifests.AppImages, bool) {
	if e, ok := p.reuse(app, check); ok {
		p.count(false)
		return e, true
	}
	p.count(true)
	return manifests.AppImages{}, false
}

func (p *Planner) count(rendered bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rendered {
		p.rendered++
	} else {
		p.reused++
	}
}

func (p *Planner) reuse(app manifests.App, check Checker) (manifests.AppImages, bool) {
	if p.full != "" || app.Err != nil || app.Remote != nil {
		return manifests.AppImages{}, false
	}
	a, ok := p.base[Definition(app)]
	if !ok || len(a.Inputs) == 0 {
		// An app that read nothing is not an app whose inputs are known.
		return manifests.AppImages{}, false
	}
	if p.needObjects && !a.ObjectsRecorded {
		// The policies would judge it on objects the record lacks.
		return manifests.AppImages{}, false
	}
	for _, in := range a.Inputs {
		h, err := p.current(in, check)
		if err != nil || h != in.Hash {
			return manifests.AppImages{}, false
		}
	}
	e := a.Entry
	e.CarriedOver = true
	src := app
	e.Source = &src
	e.Inputs = &manifests.InputSet{Inputs: a.Inputs}
	// The entry's slices are the base record's, and the record may serve
	// other evaluations at once (the service keeps decoded records): copy
	// the images so that callers may sort or edit them; nothing else of it
	// is written (TestBaseRecordIsNeverModified).
	e.Images = append([]manifests.ImageRef(nil), e.Images...)
	if e.Images == nil {
		e.Images = []manifests.ImageRef{}
	}
	if p.needObjects {
		p.objects.Store(e.Name, a.Objects)
	}
	return e, true
}

// Objects are the recorded objects of the carried-over app named name
// (with Options.NeedObjects); false when it was not carried over.
func (p *Planner) Objects(name string) ([]Object, bool) {
	v, ok := p.objects.Load(name)
	if !ok {
		return nil, false
	}
	return v.([]Object), true
}

// current hashes an input on the head checkout once per evaluation: many
// apps share a base or a chart.
func (p *Planner) current(in Input, check Checker) (string, error) {
	key := string(in.Kind) + ":" + in.Path
	// Most inputs are shared (a base, the repository's configuration)
	// and already hashed: look before allocating an entry.
	v, ok := p.hashes.Load(key)
	if !ok {
		v, _ = p.hashes.LoadOrStore(key, &memoHash{})
	}
	m := v.(*memoHash)
	m.once.Do(func() { m.hash, m.err = check.InputHash(in) })
	return m.hash, m.err
}

// LikelyImages are the unique images of the base's apps when the base is
// used (nil when everything renders): most of a pull request's images are
// its base's, so they can be resolved while the repository is scanned.
func (p *Planner) LikelyImages() []string {
	if p.full != "" {
		return nil
	}
	apps := make([]*AppRecord, 0, len(p.base))
	for _, rec := range p.base {
		apps = append(apps, rec)
	}
	return imagesOf(apps)
}

// LikelyImages are the unique images of rec's apps, sorted.
func LikelyImages(rec *Record) []string {
	apps := make([]*AppRecord, len(rec.Apps))
	for i := range rec.Apps {
		apps[i] = &rec.Apps[i]
	}
	return imagesOf(apps)
}

func imagesOf(apps []*AppRecord) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range apps {
		for _, ref := range a.Entry.Images {
			if ref.Image != "" && ref.Error == "" && !seen[ref.Image] {
				seen[ref.Image] = true
				out = append(out, ref.Image)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Counts are how many apps were rendered and how many carried over.
func (p *Planner) Counts() (rendered, carriedOver int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rendered, p.reused
}
