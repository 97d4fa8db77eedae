package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestSummaryQueriesUseIndexes: SQLite reads the summary's window through
// migration 3's indexes, never by scanning the evaluations table, so the
// list page costs the same with a year of evaluations as with a day's.
func TestSummaryQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "gate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		name, query string
		args        []any
		want        string
	}{
		{"active repositories", qActiveRepos, []any{0, 10}, "USING COVERING INDEX evaluations_repo_pr (repo>?)"},
		{"pass rate", qPassRate, []any{"acme/gitops", 0}, "USING COVERING INDEX evaluations_repo_created"},
		{"recent evaluations", qRecent, []any{"acme/gitops", 0, 300}, "SEARCH evaluations USING INDEX evaluations_repo_created (repo=? AND created_at>?)"},
		{"failing images", qFailingImages, []any{"acme/gitops", 0, 300, 5}, "USING COVERING INDEX evaluations_repo_created"},
	} {
		rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, c.want) || strings.Contains(p, "SCAN evaluations ") || strings.HasSuffix(p, "SCAN evaluations") {
			t.Errorf("%s: plan %q, want %s and no table scan", c.name, p, c.want)
		}
		t.Logf("%s: %s", c.name, p)
	}
}
