package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// SummaryOptions bound a per-repository summary: every query reads at
// most a fixed number of rows through an index, however many evaluations
// are stored.
type SummaryOptions struct {
	// Repo limits the summary to one repository; empty: the repositories
	// with the most recent evaluations.
	Repo string
	// Since starts the window (the page uses the last 30 days).
	Since time.Time
	// Repos is how many repositories at most (default 10).
	Repos int
	// Recent is how many of a repository's newest evaluations are read for
	// the last result per branch or pull request, and how many of its
	// newest failed evaluations for the failing images (default 300).
	Recent int
	// Changes is how many branches or pull requests at most (default 8).
	Changes int
	// Images is how many failing images at most (default 5).
	Images int
}

// RepoSummary is one repository at a glance.
type RepoSummary struct {
	Repo string `json:"repo"`
	// Finished and Passed count the evaluations since the window's start
	// that finished (passed, failed or errored; not superseded or pending).
	Finished int `json:"finished"`
	Passed   int `json:"passed"`
	// Changes is the newest evaluation of each branch or pull request,
	// newest first.
	Changes []ChangeResult `json:"changes"`
	// FailingImages are the images that failed or errored in the most
	// evaluations, most first.
	FailingImages []ImageCount `json:"failingImages"`
}

// PassRate is the share of finished evaluations that passed, in percent
// rounded down (so that 99.9% is never shown as 100%); -1 with none.
func (r RepoSummary) PassRate() int {
	if r.Finished == 0 {
		return -1
	}
	return r.Passed * 100 / r.Finished
}

// ChangeResult is the newest evaluation of a branch or a pull request (or,
// for an evaluation with neither, of its trigger).
type ChangeResult struct {
	EvaluationID string    `json:"evaluationId"`
	PR           int       `json:"pr,omitempty"`
	Ref          string    `json:"ref,omitempty"`
	Trigger      string    `json:"trigger"`
	SHA          string    `json:"sha"`
	State        string    `json:"state"`
	Result       string    `json:"result,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
}

// ImageCount is an image and how many evaluations it failed in.
type ImageCount struct {
	Image       string `json:"image"`
	Evaluations int    `json:"evaluations"`
}

func (o *SummaryOptions) defaults() {
	if o.Repos <= 0 || o.Repos > 100 {
		o.Repos = 10
	}
	if o.Recent <= 0 || o.Recent > 5000 {
		o.Recent = 300
	}
	if o.Changes <= 0 || o.Changes > 100 {
		o.Changes = 8
	}
	if o.Images <= 0 || o.Images > 100 {
		o.Images = 5
	}
}

// The summary's queries; each reads the window through an index of
// migration 3 (TestSummaryQueriesUseIndexes checks SQLite's plans).
const (
	// qActiveRepos walks the distinct repositories through the index (a
	// loose index scan: one lookup per repository, however many
	// evaluations each has) and keeps those evaluated since the window's
	// start, the most recently evaluated first.
	qActiveRepos = `WITH RECURSIVE r(repo) AS (
			SELECT MIN(repo) FROM evaluations
			UNION ALL
			SELECT (SELECT MIN(repo) FROM evaluations WHERE repo > r.repo) FROM r WHERE r.repo IS NOT NULL
		)
		SELECT repo FROM (SELECT repo, (SELECT MAX(created_at) FROM evaluations e WHERE e.repo = r.repo) AS last FROM r WHERE repo IS NOT NULL) t
		WHERE last >= ? ORDER BY last DESC, repo LIMIT ?`
	// qPassRate: an index-only scan of one repository's window.
	qPassRate = `SELECT COUNT(*), COALESCE(SUM(CASE WHEN result = 'pass' THEN 1 ELSE 0 END), 0)
		FROM evaluations WHERE repo = ? AND created_at >= ? AND state IN ('done', 'failed')`
	// qRecent: the newest rows of one repository, at most Recent.
	qRecent = `SELECT id, pr, trigger, sha, state, result, created_at, spec FROM evaluations
		WHERE repo = ? AND created_at >= ? AND state <> 'superseded' ORDER BY created_at DESC, id DESC LIMIT ?`
	// qFailingImages: the images of at most Recent failed evaluations.
	qFailingImages = `SELECT i.image, COUNT(DISTINCT i.evaluation_id) AS n FROM evaluation_images i
		JOIN (SELECT id FROM evaluations WHERE repo = ? AND created_at >= ? AND state = 'done' AND result IN ('fail', 'error')
		      ORDER BY created_at DESC LIMIT ?) e ON e.id = i.evaluation_id
		WHERE i.status IN ('fail', 'error')
		GROUP BY i.image ORDER BY n DESC, i.image LIMIT ?`
)

// Summaries implements Store.
func (s *SQL) Summaries(ctx context.Context, o SummaryOptions) ([]RepoSummary, error) {
	o.defaults()
	since := ms(o.Since)
	repos := []string{o.Repo}
	if o.Repo == "" {
		var err error
		if repos, err = s.activeRepos(ctx, since, o.Repos); err != nil {
			return nil, err
		}
	}
	var out []RepoSummary
	for _, repo := range repos {
		r, err := s.summary(ctx, repo, since, o)
		if err != nil {
			return nil, fmt.Errorf("summary of %s: %w", repo, err)
		}
		if r.Finished > 0 || len(r.Changes) > 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

// activeRepos are the repositories evaluated since the window's start,
// the most recently evaluated first.
func (s *SQL) activeRepos(ctx context.Context, since int64, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.rb(qActiveRepos), since, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *SQL) summary(ctx context.Context, repo string, since int64, o SummaryOptions) (RepoSummary, error) {
	r := RepoSummary{Repo: repo, Changes: []ChangeResult{}, FailingImages: []ImageCount{}}
	// The pass rate counts the whole window, from the index alone.
	if err := s.db.QueryRowContext(ctx, s.rb(qPassRate), repo, since).Scan(&r.Finished, &r.Passed); err != nil {
		return r, err
	}
	rows, err := s.db.QueryContext(ctx, s.rb(qRecent), repo, since, o.Recent)
	if err != nil {
		return r, err
	}
	seen := map[string]bool{}
	for rows.Next() {
		var c ChangeResult
		var created int64
		var spec string
		if err := rows.Scan(&c.EvaluationID, &c.PR, &c.Trigger, &c.SHA, &c.State, &c.Result, &created, &spec); err != nil {
			rows.Close()
			return r, err
		}
		if len(r.Changes) == o.Changes {
			continue // drain: the rows are bounded by Recent
		}
		if c.PR == 0 {
			var sp struct {
				Ref string `json:"ref"`
			}
			json.Unmarshal([]byte(spec), &sp)
			c.Ref = sp.Ref
		}
		key := "trigger " + c.Trigger
		switch {
		case c.PR > 0:
			key = fmt.Sprintf("pr %d", c.PR)
		case c.Ref != "":
			key = "ref " + c.Ref
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		c.CreatedAt = time.UnixMilli(created).UTC()
		r.Changes = append(r.Changes, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, err
	}
	// An image counts once per evaluation, however often it is written.
	rows, err = s.db.QueryContext(ctx, s.rb(qFailingImages), repo, since, o.Recent, o.Images)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	for rows.Next() {
		var ic ImageCount
		if err := rows.Scan(&ic.Image, &ic.Evaluations); err != nil {
			return r, err
		}
		r.FailingImages = append(r.FailingImages, ic)
	}
	return r, rows.Err()
}
