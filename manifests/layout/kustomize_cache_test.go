package layout

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// bigKustomization is a distinct kustomization of about size bytes whose
// resources list holds many entries.
func bigKustomization(n, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# %d\nresources:\n", n)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "- ../../bases/service-%08d/deployment-%d.yaml\n", i, n)
	}
	return []byte(b.String())
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestKustomizeEntryCacheBounded: the parsed kustomizations are kept
// process-wide, across evaluations of repositories whose authors write
// them; what is kept is bounded in bytes, not only in entries, so a pull
// request of huge kustomizations (pushed again and again with new content)
// cannot make a long-running service hold their parses for ever. Entries
// read from the cache are the same as parsed afresh.
func TestKustomizeEntryCacheBounded(t *testing.T) {
	// The bounds, scaled down (32 MiB, 256 KiB) so the test is quick.
	defer func(b, f int64) { maxKustomizeEntryCacheBytes, maxCachedKustomizationBytes = b, f }(maxKustomizeEntryCacheBytes, maxCachedKustomizationBytes)
	maxKustomizeEntryCacheBytes, maxCachedKustomizationBytes = 4<<20, 64<<10
	resetKustomizeEntryCache()
	t.Cleanup(resetKustomizeEntryCache)
	before := heapInUse()
	const big, small = 8, 200
	for n := 0; n < big; n++ {
		if got := kustomizeEntries(bigKustomization(n, 256<<10)); len(got) < 4_000 {
			t.Fatalf("file %d: %d entries", n, len(got))
		}
	}
	// Many smaller ones, each under the per-file limit, add up as well.
	for n := big; n < big+small; n++ {
		kustomizeEntries(bigKustomization(n, 32<<10))
	}
	held := int64(heapInUse()) - int64(before)
	if limit := maxKustomizeEntryCacheBytes + 2<<20; held > limit {
		t.Errorf("the kustomization cache holds %d KiB after %d large files, want under %d KiB", held>>10, big+small, limit>>10)
	}

	// Cached or not, concurrently, the entries are the parse's.
	resetKustomizeEntryCache()
	data := []byte("resources:\n- ../base\n- deployment.yaml\nbases: [../old]\ncomponents:\n- ../c\ncrds: [crd.yaml]\n")
	want := []string{"../base", "deployment.yaml", "../old", "../c", "crd.yaml"}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				kustomizeEntries(bigKustomization(g*1000+i, 256))
				if got := kustomizeEntries(data); strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("entries %q, want %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// resetKustomizeEntryCache empties the cache.
func resetKustomizeEntryCache() {
	kustomizeEntryCache.mu.Lock()
	defer kustomizeEntryCache.mu.Unlock()
	kustomizeEntryCache.m, kustomizeEntryCache.bytes = nil, 0
}
