package service

import (
	"context"

	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

// Summaries sums up repositories for the list page: the last result per
// branch or pull request, the pass rate and the most frequent failing
// images since o.Since (store.Store.Summaries bounds the queries).
func (s *Service) Summaries(ctx context.Context, o store.SummaryOptions) ([]store.RepoSummary, error) {
	return s.st.Summaries(ctx, o)
}

// GitHubWebOrigin is the origin of the configured GitHub's web pages
// (https://github.com, or the GitHub Enterprise Server host of
// github.baseURL), for links to pull requests; "" when github.baseURL
// names none.
func (s *Service) GitHubWebOrigin() string {
	o, err := github.WebOrigin(s.cfg.GitHub.BaseURL)
	if err != nil {
		return ""
	}
	return o
}
