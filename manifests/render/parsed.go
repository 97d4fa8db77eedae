package render

import (
	"crypto/sha256"
	"sync"

	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
)

// Parsed keeps the decoded objects of repository files for one scan, by
// path and content. The Kustomize locator reads the resource file an image
// is written in for every app built from it: in a monorepo, a base's
// deployment is decoded once per overlay (4,500 times for 90 files, 5 % of
// a cold evaluation). The objects are shared between apps: callers must
// not modify them. A nil *Parsed decodes every time.
type Parsed struct {
	mu    sync.Mutex
	files map[parsedKey]parsedFile
	bytes int64
}

// parsedKey is the path as the tree names it in errors and objects (the
// same absolute path is the same repository path for every app of a
// checkout) and the decoding limit.
type parsedKey struct {
	abs      string
	maxNodes int
}

type parsedFile struct {
	sum  [sha256.Size]byte
	size int64
	res  []model.Resource
	err  error
}

// maxParsedBytes bounds the source bytes whose objects are kept: decoded
// YAML weighs many times its text, and a repository of files each used
// once gains nothing from keeping them.
const maxParsedBytes = 2 << 20

// ReadManifests is ReadManifests through the cache. The file is still read
// through t every time, so a recording tree records it as the app's input,
// and its content decides whether the kept objects are the file's.
func (p *Parsed) ReadManifests(t tree.Tree, abs string, maxNodes int) ([]model.Resource, error) {
	if p == nil {
		return ReadManifests(t, abs, maxNodes)
	}
	data, err := t.ReadFile(abs)
	if err != nil {
		return ReadManifests(t, abs, maxNodes) // the same error, worded as always
	}
	key, sum := parsedKey{abs, maxNodes}, sha256.Sum256(data)
	p.mu.Lock()
	f, ok := p.files[key]
	p.mu.Unlock()
	if ok && f.sum == sum {
		return f.res, f.err
	}
	res, err := decodeFile(t.Rel(abs), data, maxNodes)
	p.mu.Lock()
	defer p.mu.Unlock()
	size := int64(len(data))
	if p.bytes-p.files[key].size+size <= maxParsedBytes {
		if p.files == nil {
			p.files = map[parsedKey]parsedFile{}
		}
		p.bytes += size - p.files[key].size
		p.files[key] = parsedFile{sum: sum, size: size, res: res, err: err}
	}
	return res, err
}
