package service

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/github"
)

// stateOf maps a result to a GitHub commit status state.
func stateOf(r gate.Status) string {
	switch r {
	case gate.StatusPass:
		return "success"
	case gate.StatusFail:
		return "failure"
	}
	return "error"
}

// Describe is the one line a commit status shows, under GitHub's 140
// characters: "14 images: 12 verified, 2 failed (api, worker)".
func Describe(rep *gate.Report) string {
	s := rep.Summary
	if s.Images == 0 && s.AppErrors == 0 {
		return "No images to check"
	}
	parts := []string{fmt.Sprintf("%d verified", s.Passed)}
	add := func(n int, what string, st gate.Status) {
		if n == 0 {
			return
		}
		p := fmt.Sprintf("%d %s", n, what)
		if apps := appsWith(rep, st); len(apps) > 0 {
			p += " (" + strings.Join(apps, ", ") + ")"
		}
		parts = append(parts, p)
	}
	add(s.Failed, "failed", gate.StatusFail)
	add(s.Errors, "not checked", gate.StatusError)
	if s.Audit > 0 {
		parts = append(parts, fmt.Sprintf("%d audit", s.Audit))
	}
	if s.Unmatched > 0 {
		parts = append(parts, fmt.Sprintf("%d unmatched", s.Unmatched))
	}
	d := fmt.Sprintf("%d images: %s", s.Images, strings.Join(parts, ", "))
	if s.AppErrors > 0 {
		d = fmt.Sprintf("%d of %d apps not rendered; %s", s.AppErrors, s.Apps, d)
	}
	return github.Truncate(d, 140)
}

func appsWith(rep *gate.Report, st gate.Status) []string {
	var out []string
	for _, a := range rep.Apps {
		for _, im := range a.Images {
			if im.Status == st {
				out = append(out, a.Name)
				break
			}
		}
	}
	sort.Strings(out)
	if len(out) > 3 {
		out = append(out[:3], "…")
	}
	return out
}
