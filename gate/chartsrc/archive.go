package chartsrc

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart/loader"
)

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// cached returns the unpacked chart of an archive digest that an earlier
// fetch verified and stored.
func (f *Fetcher) cached(digest, chart string) (string, bool) {
	dir := f.chartDir(digest, chart)
	st, err := os.Stat(filepath.Join(dir, "Chart.yaml"))
	return dir, err == nil && st.Mode().IsRegular()
}

// store unpacks a verified archive into the cache under its digest and
// checks that it is the chart and version asked for. The directory
// appears whole or not at all (it is renamed into place).
func (f *Fetcher) store(archive []byte, digest, chart, version string) (string, error) {
	final := filepath.Dir(f.chartDir(digest, chart))
	if dir, ok := f.cached(digest, chart); ok {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), ".unpack-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := unpack(archive, tmp, chart, f.o.MaxUnpackedBytes); err != nil {
		return "", err
	}
	c, err := loader.Load(filepath.Join(tmp, chart))
	if err != nil {
		return "", fmt.Errorf("the archive is not a chart: %w", err)
	}
	if c.Name() != chart || c.Metadata.Version != version {
		return "", fmt.Errorf("the archive holds chart %s %s, not %s %s", c.Name(), c.Metadata.Version, chart, version)
	}
	if err := os.Rename(tmp, final); err != nil {
		if dir, ok := f.cached(digest, chart); ok { // a concurrent fetch won
			return dir, nil
		}
		return "", err
	}
	return filepath.Join(final, chart), nil
}

// unpack writes a chart archive (.tgz) into dir. Every entry must be a
// regular file or a directory under the chart's own directory (chart/...):
// no absolute paths, no "..", no links; the content is bounded by max.
func unpack(archive []byte, dir, chart string, max int64) error {
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return fmt.Errorf("chart archive: %w", err)
	}
	inChart := func(name, clean string) error {
		if clean != chart && !strings.HasPrefix(clean, chart+"/") {
			return fmt.Errorf("entry %q is outside the chart's directory %s/", name, chart)
		}
		return nil
	}
	if err := extractTar(tar.NewReader(zr), dir, max, inChart); err != nil {
		return fmt.Errorf("chart archive: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, chart, "Chart.yaml")); err != nil {
		return fmt.Errorf("chart archive: no %s/Chart.yaml", chart)
	}
	return nil
}

// maxArchiveEntries bounds the entries of one archive: empty files cost
// no bytes, but each costs an inode.
const maxArchiveEntries = 50_000

// extractTar writes a tar stream into dir. Every entry must be a regular
// file or a directory whose cleaned name stays below dir: no absolute
// paths, no backslashes, no ".." that climbs out, no links or devices, no
// entry written twice; the files' total size is bounded by max and the
// entries by maxArchiveEntries. check, when set, refuses further names.
func extractTar(tr *tar.Reader, dir string, max int64, check func(name, clean string) error) error {
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if n >= maxArchiveEntries {
			return fmt.Errorf("more than %d entries", maxArchiveEntries)
		}
		name := h.Name
		clean := path.Clean(name)
		if strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("entry %q leads outside the archive's directory", name)
		}
		if check != nil {
			if err := check(name, clean); err != nil {
				return err
			}
		}
		target := filepath.Join(dir, filepath.FromSlash(clean))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("entry %q: %w", name, err)
			}
		case tar.TypeReg:
			if clean == "." {
				return fmt.Errorf("entry %q: a file cannot be the archive's root", name)
			}
			if total += h.Size; h.Size < 0 || total > max {
				return fmt.Errorf("unpacks to more than the limit of %d bytes", max)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return fmt.Errorf("entry %q: %w", name, err)
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("entry %q: %w", name, err)
			}
			_, err = io.Copy(out, io.LimitReader(tr, h.Size))
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("entry %q: %w", name, err)
			}
		case tar.TypeXGlobalHeader:
		default:
			return fmt.Errorf("entry %q is not a regular file or directory (type %q)", name, h.Typeflag)
		}
	}
}

// pickVersion resolves a requested version as Argo CD resolves a Helm
// targetRevision: a plain version must exist as it is; anything else is a
// semver constraint, and the highest version that satisfies it is taken
// (pre-releases only when the constraint names one). An empty request
// means the latest stable version.
func pickVersion(available []string, want string) (string, error) {
	want = strings.TrimSpace(want)
	if want != "" && !strings.ContainsAny(want, "<>=~^*|, xX") {
		if wv, err := semver.NewVersion(want); err == nil {
			for _, v := range available {
				if v == want {
					return v, nil
				}
			}
			for _, v := range available {
				if av, err := semver.NewVersion(v); err == nil && av.Equal(wv) {
					return v, nil
				}
			}
			return "", fmt.Errorf("version %s is not in the repository", want)
		}
	}
	if want == "" {
		want = "*"
	}
	c, err := semver.NewConstraint(want)
	if err != nil {
		return "", fmt.Errorf("version %q is neither a version nor a semver constraint: %w", want, err)
	}
	var best *semver.Version
	var bestRaw string
	for _, v := range available {
		sv, err := semver.NewVersion(v)
		if err != nil || !c.Check(sv) {
			continue
		}
		if best == nil || sv.GreaterThan(best) {
			best, bestRaw = sv, v
		}
	}
	if best == nil {
		return "", fmt.Errorf("no version in the repository satisfies %q", want)
	}
	return bestRaw, nil
}
