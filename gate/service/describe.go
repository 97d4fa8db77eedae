package service

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/report"
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
		parts = append(parts, fmt.Sprintf("%d not verified (no rule matches)", s.Unmatched))
	}
	d := fmt.Sprintf("%d images: %s", s.Images, strings.Join(parts, ", "))
	if s.AppErrors > 0 {
		d = fmt.Sprintf("%d of %d apps not rendered; %s", s.AppErrors, s.Apps, d)
	}
	if f := report.StatusFact(rep); f != "" {
		// What an attestation decided: "api: runDetails.builder.id want
		// …/release.yml@…, got …/dev.yml@…", or who built what passed.
		d += "; " + f
	}
	return github.Truncate(d, 140)
}

// appsWith names, sorted, at most three apps with an image of status st.
func appsWith(rep *gate.Report, st gate.Status) []string {
	out := rep.AppsWith(st)
	sort.Strings(out)
	if len(out) > 3 {
		out = append(out[:3], "…")
	}
	return out
}

// maxPinsDiff leaves room in GitHub's 65,536-byte comment for the text
// around the diff.
const maxPinsDiff = 60000

// PinsComment is the body of the proposed-pins comment for commit sha, and
// whether it may only update an existing comment (nothing to propose: say
// so where a proposal was, stay quiet elsewhere).
func PinsComment(sha, target string, rep *gate.Report) (string, bool) {
	short := sha
	if len(short) > 12 {
		short = short[:12]
	}
	p := rep.ProposedPins
	switch {
	case rep.Result != gate.StatusPass:
		return fmt.Sprintf("**gitops-gate**: pins are proposed only when every image passes; at %s they did not ([evaluation](%s)).\n", short, target), true
	case p == nil:
		return fmt.Sprintf("**gitops-gate**: every image is pinned to a verified digest at %s ([evaluation](%s)).\n", short, target), true
	}
	var b strings.Builder
	if p.Edits == 0 {
		fmt.Fprintf(&b, "**gitops-gate**: every image passed at %s ([evaluation](%s)), but these still use a tag where gitops-gate cannot pin them in the source:\n\n", short, target)
		writeSkipped(&b, p)
		return b.String(), false
	}
	fmt.Fprintf(&b, "**gitops-gate**: every image passed at %s ([evaluation](%s)), but %d image %s in %d %s still %s a tag. ",
		short, target, p.Edits, plural(p.Edits, "value", "values"), len(p.Files), plural(len(p.Files), "file", "files"), plural(p.Edits, "uses", "use"))
	b.WriteString("This change pins each to the digest that was verified, so that what Argo CD applies is what was checked:\n\n")
	diff := p.Diff
	truncated := len(diff) > maxPinsDiff
	if truncated {
		cut := strings.LastIndexByte(diff[:maxPinsDiff], '\n') + 1
		diff = diff[:cut]
	}
	fence := "```"
	for strings.Contains(diff, fence) {
		fence += "`"
	}
	b.WriteString(fence + "diff\n" + diff + fence + "\n\n")
	if truncated {
		b.WriteString("The diff is cut short here; `gitops-gate pin --dry-run` prints all of it.\n\n")
	}
	b.WriteString("To apply it: `gitops-gate pin <checkout>` with the gate's policy (the same edits, verified again), or save the diff and `git apply` it.\n")
	if len(p.Skipped) > 0 {
		b.WriteString("\nNot pinned in the source (pin them by hand or with the chart's values):\n")
		writeSkipped(&b, p)
	}
	return b.String(), false
}

func writeSkipped(b *strings.Builder, p *gate.PinProposal) {
	for _, sk := range p.Skipped {
		fmt.Fprintf(b, "- `%s` (%s): %s\n", sk.Image, sk.File, sk.Reason)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
