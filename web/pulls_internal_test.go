package web

import (
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/store"
)

func TestPullRequestURL(t *testing.T) {
	pr := store.Spec{Repo: "acme/gitops", PR: 12, Trigger: "pull_request"}
	for _, c := range []struct {
		name, origin string
		spec         store.Spec
		want         string
	}{
		{"github.com", "https://github.com", pr, "https://github.com/acme/gitops/pull/12"},
		{"GitHub Enterprise Server", "https://ghe.example.com", pr, "https://ghe.example.com/acme/gitops/pull/12"},
		{"an API evaluation that names its pull request", "https://github.com", store.Spec{Repo: "acme/gitops", PR: 3, Trigger: "api"}, "https://github.com/acme/gitops/pull/3"},
		{"no pull request", "https://github.com", store.Spec{Repo: "acme/gitops", Ref: "refs/heads/main", Trigger: "push"}, ""},
		{"the demo", "https://github.com", store.Spec{Repo: "demo/gitops", PR: 1, Trigger: "demo"}, ""},
		{"a local directory", "https://github.com", store.Spec{Repo: "acme/gitops", PR: 1, Trigger: "api", Local: "/srv/repo"}, ""},
		{"no GitHub configured", "", pr, ""},
		{"not owner/name", "https://github.com", store.Spec{Repo: "acme/gitops/../../evil", PR: 1}, ""},
		{"markup in the name", "https://github.com", store.Spec{Repo: `acme/"><script>`, PR: 1}, ""},
		{"a query in the name", "https://github.com", store.Spec{Repo: "acme/x?y=1", PR: 1}, ""},
	} {
		if got := pullRequestURL(c.origin, c.spec); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
