package github_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
	"github.com/gitops-gate/gitops-gate/gate/github"
)

func TestUpsertComment(t *testing.T) {
	fake := fakegithub.New(t)
	c, err := github.NewClient(github.Auth{Token: "ghp_test", BaseURL: fake.Server.URL + "/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := github.Comment{Repo: "acme/gitops", PR: 7, Marker: "gitops-gate:pins"}
	step := func(version, body string, updateOnly bool, want string) {
		t.Helper()
		cm := base
		cm.Version, cm.Body, cm.UpdateOnly = version, body, updateOnly
		got, err := c.UpsertComment(ctx, cm)
		if err != nil || got != want {
			t.Fatalf("version %s: %q %v, want %q", version, got, err, want)
		}
	}
	step("01", "nothing to pin", true, "none") // no comment yet: stays quiet
	if n := len(fake.Comments()); n != 0 {
		t.Fatalf("%d comments after an update-only call", n)
	}
	step("02", "pin these", false, "created")
	step("02", "pin these", false, "updated") // a retried job finds it
	step("04", "pin those", false, "updated")
	step("03", "stale", false, "newer") // an older evaluation finishing late
	step("05", "all pinned", true, "updated")
	cs := fake.Comments()
	if len(cs) != 1 || cs[0].Edits != 1+1 || !strings.HasSuffix(cs[0].Body, "all pinned") || !strings.HasPrefix(cs[0].Body, "<!-- gitops-gate:pins version=05 -->\n") {
		t.Fatalf("comments %+v", cs)
	}
	other := base
	other.PR, other.Version, other.Body = 8, "06", "another PR"
	if got, _ := c.UpsertComment(ctx, other); got != "created" || len(fake.Comments()) != 2 {
		t.Errorf("another pull request gets its own comment: %q", got)
	}
	big := base
	big.Version, big.Body = "07", strings.Repeat("x", github.MaxCommentBytes)
	if _, err := c.UpsertComment(ctx, big); err == nil {
		t.Error("a body over GitHub's limit should be refused")
	}
	if bad := fake.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would not accept: %v", bad)
	}
}
