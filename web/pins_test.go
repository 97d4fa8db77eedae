package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

// waitComment waits until the pull request's only comment satisfies ok.
func (g *gateEnv) waitComment(pr int, ok func(fakegithub.Comment) bool) fakegithub.Comment {
	g.t.Helper()
	var last []fakegithub.Comment
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		last = last[:0]
		for _, c := range g.gh.Comments() {
			if c.PR == pr {
				last = append(last, c)
			}
		}
		if len(last) > 1 {
			g.t.Fatalf("pull request %d has %d comments, want one kept up to date", pr, len(last))
		}
		if len(last) == 1 && ok(last[0]) {
			return last[0]
		}
	}
	g.t.Fatalf("pull request %d: comments %+v", pr, last)
	return fakegithub.Comment{}
}

// TestProposedPinsComment: with github.proposePins: comment, a pull request
// whose images all pass but use tags gets one comment with the diff that
// pins them to the digests this evaluation verified; the next commit, with
// the pins applied, rewrites that comment instead of adding one; a failing
// pull request gets none.
func TestProposedPinsComment(t *testing.T) {
	g := newGate(t, "github.proposePins: comment")
	reg := g.world.Registry.Host
	api := g.image("acme/api:v1", true)
	web := g.image("acme/web:v2", true)
	g.image("acme/worker:v1", false)
	apiDigest, webDigest := api[strings.Index(api, "@")+1:], web[strings.Index(web, "@")+1:]
	g.repo.SetRef("refs/heads/main", g.repo.Commit("base", map[string]string{"README.md": "gitops\n"}))

	// Tags in a plain manifest (with a comment to keep) and in a
	// kustomization's images: entry.
	tagged := map[string]string{
		"apps/api/deploy.yaml":        "# the API\n" + deployment("api", reg+"/acme/api:v1"),
		"apps/web/kustomization.yaml": "resources: [deploy.yaml]\nimages:\n- name: " + reg + "/acme/web\n  newTag: v2\n",
		"apps/web/deploy.yaml":        deployment("web", reg+"/acme/web"),
	}
	sha1 := g.repo.Commit("tags", tagged)
	g.repo.SetRef("refs/pull/5/head", sha1)
	g.send("pull_request", "pins-1", g.payload("opened", 5, sha1), secret)
	if st := g.waitFinal(sha1); st[len(st)-1].State != "success" {
		t.Fatalf("statuses %+v", st)
	}
	evs, _, _ := g.store.List(context.Background(), store.Filter{PR: 5})
	c := g.waitComment(5, func(c fakegithub.Comment) bool { return strings.Contains(c.Body, "```diff") })
	for _, want := range []string{
		"<!-- gitops-gate:pins version=" + evs[0].ID + " -->",
		"every image passed at " + sha1[:12],
		"https://gate.example.com/evaluations/" + evs[0].ID,
		"2 image values in 2 files still use a tag",
		"--- a/apps/api/deploy.yaml\n+++ b/apps/api/deploy.yaml\n",
		"-          image: " + reg + "/acme/api:v1\n+          image: " + reg + "/acme/api:v1@" + apiDigest + "\n",
		"+++ b/apps/web/kustomization.yaml\n",
		"   newTag: v2\n+  digest: " + webDigest + "\n",
		"gitops-gate pin <checkout>",
	} {
		if !strings.Contains(c.Body, want) {
			t.Errorf("comment lacks %q:\n%s", want, c.Body)
		}
	}
	// A redelivery is deduplicated: still one comment, unchanged.
	g.send("pull_request", "pins-1", g.payload("opened", 5, sha1), secret)

	// The author applies the pins: the comment is rewritten, not repeated.
	pinned := map[string]string{
		"apps/api/deploy.yaml":        "# the API\n" + deployment("api", reg+"/acme/api:v1@"+apiDigest),
		"apps/web/kustomization.yaml": "resources: [deploy.yaml]\nimages:\n- name: " + reg + "/acme/web\n  newTag: v2\n  digest: " + webDigest + "\n",
	}
	sha2 := g.repo.Commit("pinned", pinned)
	g.repo.SetRef("refs/pull/5/head", sha2)
	g.send("pull_request", "pins-2", g.payload("synchronize", 5, sha2), secret)
	g.waitFinal(sha2)
	c = g.waitComment(5, func(c fakegithub.Comment) bool { return strings.Contains(c.Body, sha2[:12]) })
	if !strings.Contains(c.Body, "every image is pinned to a verified digest at "+sha2[:12]) || c.Edits != 1 {
		t.Errorf("after pinning: %d edits, body:\n%s", c.Edits, c.Body)
	}

	// A failing pull request gets a failure status and no comment.
	sha3 := g.repo.Commit("unsigned", map[string]string{"apps/worker/deploy.yaml": deployment("worker", reg+"/acme/worker:v1")})
	g.repo.SetRef("refs/pull/6/head", sha3)
	g.send("pull_request", "pins-3", g.payload("opened", 6, sha3), secret)
	if st := g.waitFinal(sha3); st[len(st)-1].State != "failure" {
		t.Fatalf("statuses %+v", st)
	}
	// Its comment job has run once nothing of that kind is queued.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		depth, err := g.store.QueueDepth(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if depth[store.JobComment] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("comment jobs still queued: %v", depth)
		}
	}
	for _, c := range g.gh.Comments() {
		if c.PR == 6 {
			t.Errorf("a failing pull request got a comment:\n%s", c.Body)
		}
	}
	if n := len(g.gh.Comments()); n != 1 {
		t.Errorf("%d comments in all, want 1", n)
	}
	if bad := g.gh.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would not accept: %v", bad)
	}
}

// TestProposedPinsPage: the evaluation page shows the proposed diff.
func TestProposedPinsPage(t *testing.T) {
	g := newGate(t, "github.proposePins: comment")
	reg := g.world.Registry.Host
	g.image("acme/api:v1", true)
	g.repo.SetRef("refs/heads/main", g.repo.Commit("base", map[string]string{"README.md": "gitops\n"}))
	sha := g.repo.Commit("tag", map[string]string{"apps/api/deploy.yaml": deployment("api", reg+"/acme/api:v1")})
	g.repo.SetRef("refs/pull/9/head", sha)
	g.send("pull_request", "page-1", g.payload("opened", 9, sha), secret)
	g.waitFinal(sha)
	evs, _, _ := g.store.List(context.Background(), store.Filter{PR: 9})
	page := get(t, g.srv.URL+"/evaluations/"+evs[0].ID)
	for _, want := range []string{`<h2 id="pins-title">Proposed pins</h2>`, "1 image value in 1 file", `<pre class="diff">--- a/apps/api/deploy.yaml`, "&#43;          image: " + reg + "/acme/api:v1@sha256:"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
