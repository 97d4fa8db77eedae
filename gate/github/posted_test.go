package github_test

import (
	"context"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

func TestStatusPosted(t *testing.T) {
	fake := fakegithub.New(t)
	c, err := github.NewClient(github.Auth{Token: "ghp_test", BaseURL: fake.Server.URL + "/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sha := "0123456789abcdef0123456789abcdef01234567"
	pending := store.Status{Repo: "acme/gitops", SHA: sha, State: "pending", Context: "gitops-gate", Description: "checking", TargetURL: "https://gate/e/1"}
	final := pending
	final.State, final.Description = "success", "2 images: 2 verified"
	if posted, err := c.StatusPosted(ctx, final); err != nil || posted {
		t.Fatalf("before any post: %v %v", posted, err)
	}
	for _, st := range []store.Status{pending, final} {
		if err := c.PostStatus(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if posted, err := c.StatusPosted(ctx, final); err != nil || !posted {
		t.Fatalf("after posting: %v %v", posted, err)
	}
	// Only the latest status of the context counts: the pending one was
	// replaced, so it is not "already posted".
	if posted, _ := c.StatusPosted(ctx, pending); posted {
		t.Error("an older status of the context counted as the current one")
	}
	other := final
	other.Context = "gitops-gate/apps"
	if posted, _ := c.StatusPosted(ctx, other); posted {
		t.Error("another context counted")
	}
	if bad := fake.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would refuse: %v", bad)
	}
}
