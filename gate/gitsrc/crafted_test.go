package gitsrc

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// storeBlob stores content as a blob of the repository.
func (r *localRepo) storeBlob(content string) plumbing.Hash {
	r.t.Helper()
	o := r.repo.Storer.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	w, _ := o.Writer()
	w.Write([]byte(content))
	w.Close()
	h, err := r.repo.Storer.SetEncodedObject(o)
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

// storeTree stores a tree with entries as given (in that order, unchecked).
func (r *localRepo) storeTree(entries []object.TreeEntry) plumbing.Hash {
	r.t.Helper()
	o := r.repo.Storer.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(o); err != nil {
		r.t.Fatal(err)
	}
	h, err := r.repo.Storer.SetEncodedObject(o)
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

// TestCheckoutNeverWritesThroughASymlink: a crafted tree holding a
// symlink "a" to a directory outside the checkout and also a file under
// "a" — by a name with a slash ("a/x") or by a second entry named "a", a
// directory — made writeTree create the link and then write the file
// through it: a file of the attacker's choosing outside the checkout (the
// gate's caches, its data directory). git fsck refuses both trees
// (fullPathname, duplicateEntries); writeTree must refuse them before it
// writes anything, whole or through an idle worktree. The legitimate
// variant, a symlink to a directory next to a real directory, checks out.
func TestCheckoutNeverWritesThroughASymlink(t *testing.T) {
	r := newLocalRepo(t)
	os.WriteFile(filepath.Join(r.work, "b.yaml"), []byte("b: 1\n"), 0o644)
	c1 := r.commit("")
	outside := t.TempDir()
	link := r.storeBlob(outside)
	payload := r.storeBlob("pwned\n")
	sub := r.storeTree([]object.TreeEntry{{Name: "x", Mode: filemode.Regular, Hash: payload}})
	ctx := context.Background()
	for name, entries := range map[string][]object.TreeEntry{
		"slash in name":     {{Name: "a", Mode: filemode.Symlink, Hash: link}, {Name: "a/x", Mode: filemode.Regular, Hash: payload}},
		"link then dir":     {{Name: "a", Mode: filemode.Symlink, Hash: link}, {Name: "a", Mode: filemode.Dir, Hash: sub}},
		"deep slash":        {{Name: "d", Mode: filemode.Dir, Hash: r.storeTree([]object.TreeEntry{{Name: "a", Mode: filemode.Symlink, Hash: link}, {Name: "a/x", Mode: filemode.Regular, Hash: payload}})}},
		"dir named by path": {{Name: "a", Mode: filemode.Symlink, Hash: link}, {Name: "a/y", Mode: filemode.Dir, Hash: sub}},
	} {
		t.Run(name, func(t *testing.T) {
			c2 := craft(t, r.repo, c1, entries)
			if _, err := writeTree(ctx, r.repo.Storer, c2, t.TempDir(), 1<<30, defaultPlaceholderOver); err == nil {
				t.Error("writeTree: a tree with a path through a symlink checked out")
			}
			f, _ := New(Options{CacheDir: t.TempDir(), IdleWorktrees: 1})
			defer f.Close()
			tmp := t.TempDir()
			_, cleanup, err := f.checkout(ctx, r.repo, "cache", c1, tmp)
			if err != nil {
				t.Fatal(err)
			}
			cleanup()
			if _, _, err := f.checkout(ctx, r.repo, "cache", c2, tmp); err == nil {
				t.Error("checkout over an idle worktree: a tree with a path through a symlink checked out")
			}
			if left, _ := os.ReadDir(outside); len(left) != 0 {
				t.Fatalf("written outside the checkout: %v", left)
			}
		})
	}

	// Legitimate: a symlink to a directory of the tree, next to it.
	ok := craft(t, r.repo, c1, []object.TreeEntry{
		{Name: "a", Mode: filemode.Dir, Hash: sub},
		{Name: "b", Mode: filemode.Symlink, Hash: r.storeBlob("a")},
	})
	dir := t.TempDir()
	if _, err := writeTree(ctx, r.repo.Storer, ok, dir, 1<<30, defaultPlaceholderOver); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "b", "x")); err != nil || string(b) != "pwned\n" {
		t.Errorf("b/x through the link: %q %v", b, err)
	}
}

// TestCheckoutRefusesNamesTheFileSystemFolds: on a case-insensitive (or
// Unicode-normalising) file system — the `check` command's allowed
// sources on a Mac — a tree holding "apps/deploy.yaml" and
// "Apps/kustomization.yaml" was written into one directory, so the gate
// rendered a Kustomize app the cluster (Linux, where they are two) never
// sees, and "App.yaml" after "app.yaml" overwrote it. A checkout now
// creates every directory and file exclusively: what the file system
// already has under another spelling is an error. A Linux file system
// keeps names apart, so the test stands the folded name in by creating
// it first, as such a file system would report it; the legitimate
// variant, both spellings on a case-sensitive file system, checks out.
func TestCheckoutRefusesNamesTheFileSystemFolds(t *testing.T) {
	r := newLocalRepo(t)
	for _, f := range []string{"apps/deploy.yaml", "Apps/kustomization.yaml", "app.yaml", "App.yaml"} {
		os.MkdirAll(filepath.Join(r.work, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(r.work, f), []byte("# "+f+"\n"), 0o644)
	}
	c := r.commit("")
	ctx := context.Background()
	for name, folded := range map[string]string{"directory": "Apps", "file": "App.yaml"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, folded)
			var err error
			if name == "directory" {
				err = os.Mkdir(p, 0o755)
			} else {
				err = os.WriteFile(p, nil, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := writeTree(ctx, r.repo.Storer, c, dir, 1<<30, defaultPlaceholderOver); err == nil {
				t.Errorf("%s %s was there under another name, and the checkout wrote into it", name, folded)
			}
		})
	}
	dir := t.TempDir()
	if _, err := writeTree(ctx, r.repo.Storer, c, dir, 1<<30, defaultPlaceholderOver); err != nil {
		t.Fatal(err)
	}
	if got := listing(t, dir); len(got) != 6 {
		t.Errorf("checkout: %v", got)
	}
}

// TestUpdateOfATreeMissingASubtreeFails: an idle checkout brought to a
// commit whose changed subtree the cache repository lacks fails as a
// whole checkout does (the update is abandoned and writeTree refuses the
// tree), rather than handing out the directory without it.
func TestUpdateOfATreeMissingASubtreeFails(t *testing.T) {
	r := newLocalRepo(t)
	for _, f := range []string{"a/app.yaml", "b/app.yaml", "c/app.yaml"} {
		os.MkdirAll(filepath.Join(r.work, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(r.work, f), []byte("kind: ConfigMap\n"), 0o644)
	}
	c1 := r.commit("")
	os.WriteFile(filepath.Join(r.work, "b/more.yaml"), []byte("kind: Secret\n"), 0o644)
	c2 := r.commit("")
	sub := runGit(t, r.work, "rev-parse", c2.Hash.String()+":b")
	if err := os.Remove(filepath.Join(r.work, ".git", "objects", sub[:2], sub[2:])); err != nil {
		t.Fatal(err)
	}
	f, _ := New(Options{CacheDir: t.TempDir(), IdleWorktrees: 1})
	defer f.Close()
	ctx := context.Background()
	tmp := t.TempDir()
	_, cleanup, err := f.checkout(ctx, r.repo, "cache", c1, tmp)
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	if dir, cleanup, err := f.checkout(ctx, r.repo, "cache", c2, tmp); err == nil {
		got := listing(t, dir)
		cleanup()
		t.Fatalf("checkout of a commit missing tree b succeeded: %v", got)
	}
	if f.pool.applied.Load() != 0 {
		t.Error("the update was applied")
	}
}

// TestWorktreeCancelledUpdateAndCloseDuringUse: an update whose context
// ends is an error and its worktree is deleted, never handed out half
// applied nor kept; a checkout out when the Fetcher closes is deleted by
// its cleanup; nothing is left in the checkouts' root.
func TestWorktreeCancelledUpdateAndCloseDuringUse(t *testing.T) {
	r := newLocalRepo(t)
	os.WriteFile(filepath.Join(r.work, "a.yaml"), []byte("a: 1\n"), 0o644)
	c1 := r.commit("")
	os.WriteFile(filepath.Join(r.work, "b.yaml"), []byte("b: 1\n"), 0o644)
	c2 := r.commit("")
	f, _ := New(Options{CacheDir: t.TempDir(), IdleWorktrees: 2})
	tmp := t.TempDir()
	_, cleanup, err := f.checkout(context.Background(), r.repo, "cache", c1, tmp)
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := f.checkout(cancelled, r.repo, "cache", c2, tmp); err == nil {
		t.Error("an update with its context ended succeeded")
	}
	if len(f.pool.idle) != 0 || f.pool.discarded.Load() != 1 {
		t.Errorf("idle %d, discarded %d: the interrupted worktree must be deleted", len(f.pool.idle), f.pool.discarded.Load())
	}
	dir, cleanup, err := f.checkout(context.Background(), r.repo, "cache", c2, tmp)
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, "after a cancelled update", dir, fresh(t, r.repo.Storer, c2, defaultPlaceholderOver))
	f.Close()
	cleanup()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
