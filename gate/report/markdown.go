package report

import (
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gitops-gate/gitops-gate/gate"
)

// GitHubTextLimit is the most characters GitHub accepts in a check run's
// output.summary (and in a comment body, less one).
const GitHubTextLimit = 65535

// Cell caps: one hostile or verbose reason must not crowd every other image
// out of a summary that has a hard size limit. The JSON report keeps the
// full text.
const (
	maxReasonCell = 1000
	maxCell       = 300
	maxTitleName  = 60
)

// MarkdownOptions shape the Markdown summary.
type MarkdownOptions struct {
	// Limit caps the summary's size in bytes; 0 means GitHubTextLimit.
	// GitHub counts characters, and a UTF-8 byte count never undercounts
	// them (not even in UTF-16 code units), so a byte cap is always safe.
	Limit int
	// ReportURL, when known, is linked from the note that says the summary
	// was cut (the evaluation page, or the workflow run).
	ReportURL string
}

// Title is the outcome in one plain-text line, e.g. "2 of 14 images
// failed: web-prod, jobs". It is the check run's title and the heading of
// the Markdown summary.
func Title(rep *gate.Report) string {
	s := rep.Summary
	var parts []string
	if s.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d images failed: %s", s.Failed, s.Images, titleNames(rep.AppsWith(gate.StatusFail))))
	}
	if s.Errors > 0 {
		if len(parts) == 0 {
			parts = append(parts, fmt.Sprintf("%d of %d images could not be checked: %s", s.Errors, s.Images, titleNames(rep.AppsWith(gate.StatusError))))
		} else {
			parts = append(parts, fmt.Sprintf("%d could not be checked", s.Errors))
		}
	}
	if s.AppErrors > 0 {
		var names []string
		for _, a := range rep.Apps {
			if a.Error != "" {
				names = append(names, a.Name)
			}
		}
		parts = append(parts, fmt.Sprintf("%d of %d apps could not be rendered: %s", s.AppErrors, s.Apps, titleNames(names)))
	}
	if len(parts) > 0 {
		return strings.Join(parts, "; ")
	}
	// Every image passed (or the report is empty): say how.
	switch {
	case s.Images == 0:
		return fmt.Sprintf("No images found in %d apps", s.Apps)
	case s.Passed == s.Images:
		return fmt.Sprintf("All %d images verified", s.Images)
	}
	out := fmt.Sprintf("%d images passed: %d verified", s.Images, s.Passed)
	for _, c := range []struct {
		n    int
		what string
	}{{s.Audit, "audit findings"}, {s.Skipped, "skipped"}, {s.Unmatched, "unmatched (no rule applies)"}} {
		if c.n > 0 {
			out += fmt.Sprintf(", %d %s", c.n, c.what)
		}
	}
	return out
}

// titleNames lists at most three app names, each one safe line.
func titleNames(names []string) string {
	const show = 3
	out := make([]string, 0, show+1)
	for i, n := range names {
		if i == show {
			out = append(out, fmt.Sprintf("and %d more", len(names)-show))
			break
		}
		out = append(out, clip(plainLine(n), maxTitleName))
	}
	return strings.Join(out, ", ")
}

// block is a piece of the summary that is kept or cut whole (a table row,
// a table's header with its delimiter row), so a cut never leaves a broken
// table; images counts the image rows it holds.
type block struct {
	text   string
	images int
	passed bool // a row of the folded passed table: the first to go
}

// Markdown renders the summary of a check run and of a workflow step: a
// title, a table of the images that did not pass, audit findings, the
// passed images folded under <details>, then the apps that could not be
// rendered. Every value from the repository or a registry is escaped, and
// the result is at most o.Limit bytes, with a note when something was cut.
func Markdown(rep *gate.Report, o MarkdownOptions) string {
	limit := o.Limit
	if limit <= 0 {
		limit = GitHubTextLimit
	}
	var head, tail []block
	icon := "✅"
	switch rep.Result {
	case gate.StatusFail:
		icon = "❌"
	case gate.StatusError:
		icon = "⚠️"
	}
	head = append(head, block{text: fmt.Sprintf("## %s gitops-gate: %s\n\n%s\n", icon, mdText(Title(rep), 0), mdText(Summary(rep), 0))})

	type row struct {
		app string
		im  gate.ImageVerdict
	}
	var bad, audit, passed []row
	for _, a := range rep.Apps {
		for _, im := range a.Images {
			switch im.Status {
			case gate.StatusFail, gate.StatusError:
				bad = append(bad, row{a.Name, im})
			case gate.StatusAudit:
				audit = append(audit, row{a.Name, im})
			default:
				passed = append(passed, row{a.Name, im})
			}
		}
	}
	findings := func(title string, rows []row) {
		if len(rows) == 0 {
			return
		}
		head = append(head, block{text: "\n### " + title + "\n\n" +
			"| Status | App | Image | Digest | Expected signer | Found signer | Reason | Location |\n" +
			"| --- | --- | --- | --- | --- | --- | --- | --- |\n"})
		for _, r := range rows {
			head = append(head, block{images: 1, text: "| " + strings.Join([]string{
				statusCell(r.im.Status), mdText(r.app, maxCell), mdCode(r.im.Image), mdCode(ShortDigest(r.im.Digest)),
				mdText(expectedSigner(r.im), maxCell), mdText(foundSigner(r.im), maxCell),
				mdText(r.im.Reason+ruleSuffix(r.im), maxReasonCell), mdCode(locationOf(r.im)),
			}, " | ") + " |\n"})
		}
	}
	findings("Images that did not pass", bad)
	findings("Audit findings (reported, not enforced)", audit)

	var mid []block
	if len(passed) > 0 {
		mid = append(mid, block{text: fmt.Sprintf("\n<details>\n<summary>%d images passed</summary>\n\n", len(passed)) +
			"| Status | App | Image | Digest | Signer | Location |\n| --- | --- | --- | --- | --- | --- |\n"})
		for _, r := range passed {
			note := signer(r.im)
			if r.im.Status != gate.StatusPass && r.im.Reason != "" {
				note = r.im.Reason
			}
			mid = append(mid, block{images: 1, passed: true, text: "| " + strings.Join([]string{
				statusCell(r.im.Status), mdText(r.app, maxCell), mdCode(r.im.Image), mdCode(ShortDigest(r.im.Digest)),
				mdText(note, maxCell), mdCode(locationOf(r.im)),
			}, " | ") + " |\n"})
		}
	}
	closeDetails := ""
	if len(passed) > 0 {
		closeDetails = "\n</details>\n"
	}

	first := true
	for _, a := range rep.Apps {
		if a.Error == "" {
			continue
		}
		if first {
			tail = append(tail, block{text: "\n### Apps that could not be rendered (their images were not checked)\n\n" +
				"| App | Path | Error |\n| --- | --- | --- |\n"})
			first = false
		}
		tail = append(tail, block{text: "| " + mdText(a.Name, maxCell) + " | " + mdCode(a.Path) + " | " + mdText(a.Error, maxReasonCell) + " |\n"})
	}

	full := join(head) + join(mid) + closeDetails + join(tail)
	if len(full) <= limit {
		return full
	}
	return cut(head, mid, tail, closeDetails, rep.Summary.Images, limit, o.ReportURL)
}

// cut fits the summary into limit bytes: the passed rows go first (they
// matter least), then blocks from the end, and a note says what is missing.
func cut(head, mid, tail []block, closeDetails string, images, limit int, reportURL string) string {
	note := func(hidden int) string {
		s := fmt.Sprintf("\n---\n**This summary was cut to fit a limit of %d characters", limit)
		if hidden > 0 {
			s += fmt.Sprintf(": %d of %d images are not shown", hidden, images)
		}
		s += ".** "
		if u := safeURL(reportURL); u != "" {
			return s + "[See the full report](" + u + ").\n"
		}
		return s + "Run `gitops-gate check -o json` for the full report.\n"
	}
	// The longest note, so that the budget holds whatever the count.
	budget := limit - len(note(images))
	hidden := 0
	for len(mid) > 0 && size(head)+size(mid)+len(closeDetails)+size(tail) > budget {
		hidden += mid[len(mid)-1].images
		mid = mid[:len(mid)-1]
	}
	if len(mid) == 1 { // only the header of the passed table is left
		mid, closeDetails = nil, ""
	}
	var out strings.Builder
	if len(mid) > 0 {
		// The passed rows were cut until everything else fits.
		out.WriteString(join(head) + join(mid) + closeDetails + join(tail))
	} else {
		rest := append(append([]block{}, head...), tail...)
		for i, b := range rest {
			if out.Len()+len(b.text) > budget {
				for _, r := range rest[i:] {
					hidden += r.images
				}
				break
			}
			out.WriteString(b.text)
		}
	}
	out.WriteString(note(hidden))
	s := out.String()
	if len(s) > limit { // a limit smaller than the note itself
		s = truncateUTF8(s, limit)
	}
	return s
}

func join(bs []block) string {
	var b strings.Builder
	for _, x := range bs {
		b.WriteString(x.text)
	}
	return b.String()
}

func size(bs []block) int {
	n := 0
	for _, b := range bs {
		n += len(b.text)
	}
	return n
}

// WriteMarkdown writes Markdown(rep, o).
func WriteMarkdown(w io.Writer, rep *gate.Report, o MarkdownOptions) error {
	_, err := io.WriteString(w, Markdown(rep, o))
	return err
}

func statusCell(s gate.Status) string {
	icon := map[gate.Status]string{
		gate.StatusPass: "✅", gate.StatusFail: "❌", gate.StatusError: "⚠️", gate.StatusAudit: "🔶",
		gate.StatusSkipped: "⏭️", gate.StatusUnmatched: "➖",
	}[s]
	return strings.TrimSpace(icon + " " + mdText(string(s), maxCell))
}

func ruleSuffix(im gate.ImageVerdict) string {
	if im.Rule == "" {
		return ""
	}
	return " [rule " + im.Rule + "]"
}

func locationOf(im gate.ImageVerdict) string {
	if im.Line > 0 {
		return fmt.Sprintf("%s:%d", im.File, im.Line)
	}
	return im.File
}

// expectedSigner is what the policy asked for, as the reason states it:
// the verdict records it only inside the reason ("… (want issuer …,
// subject …)"), once per unsatisfied attestor set.
func expectedSigner(im gate.ImageVerdict) string {
	var wants []string
	rest := im.Reason
	for {
		i := strings.Index(rest, "(want ")
		if i < 0 {
			break
		}
		rest = rest[i+len("(want "):]
		// The description may itself hold parentheses (a regexp): it ends
		// at the last ")" before the next attestor set's "; " or the end.
		end := len(rest)
		if j := strings.Index(rest, "(want "); j >= 0 {
			end = j
		}
		seg := rest[:end]
		if k := strings.LastIndex(seg, ")"); k >= 0 {
			seg = seg[:k]
		}
		wants = append(wants, seg)
	}
	return strings.Join(wants, "; ")
}

var gotSubjects = regexp.MustCompile(`got subjects \[([^\]]*)\](?: with issuer (\S+))?`)

// foundSigner is the identity that signed: the verified signer, or for a
// signature by someone else the identity cosign reported in the reason.
func foundSigner(im gate.ImageVerdict) string {
	if im.Signer != nil {
		return im.Signer.String()
	}
	if m := gotSubjects.FindStringSubmatch(im.Reason); m != nil {
		if m[2] != "" {
			return m[1] + " (" + m[2] + ")"
		}
		return m[1]
	}
	return ""
}

// plainLine makes s one line of printable text that is safe in a CI log:
// invalid UTF-8, control characters and line or paragraph separators
// become spaces, bidi controls (which can make text read differently from
// what it is) become U+FFFD, and "##[" is broken with a U+FFFD, because
// the Actions runner takes "##[command]" anywhere in a log line as a
// workflow command (its v1 syntax), as it does a line starting with "::".
func plainLine(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "##[", "##\uFFFD[")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029' || r == '\u0085':
			return ' '
		case unicode.Is(unicode.Bidi_Control, r):
			return '\uFFFD'
		case unicode.IsControl(r):
			return ' '
		}
		return r
	}, s)
}

// mdSpecial are the characters backslash-escaped in Markdown text: those
// that start emphasis, links, images, code, HTML, entities, headings,
// strikethrough and GFM autolinks, and the table cell separator.
const mdSpecial = "\\`*_[]<>&|~:@#!"

var wwwAutolink = regexp.MustCompile(`(?i)www\.`)

// mdText escapes s for Markdown text (a table cell or a heading): one line,
// clipped to max bytes when max > 0, every special character escaped, so
// no value can close a cell, open HTML, or make a link.
func mdText(s string, max int) string {
	s = plainLine(s)
	if max > 0 {
		s = clip(s, max)
	}
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf && strings.ContainsRune(mdSpecial, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	// "www." is an autolink even without a scheme: break its dot.
	return wwwAutolink.ReplaceAllStringFunc(b.String(), func(m string) string { return m[:3] + `\.` })
}

// mdCode puts s in a code span (literal: no emphasis, HTML or links), with
// a backtick fence longer than any run in s, and pipes escaped as GFM
// tables require even inside code.
func mdCode(s string) string {
	s = clip(plainLine(s), maxCell)
	if strings.TrimSpace(s) == "" {
		return ""
	}
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	s = strings.ReplaceAll(s, `|`, `\|`)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasSuffix(s, `\`) {
		s = " " + s + " "
	}
	return fence + s + fence
}

// clip cuts s to at most n bytes at a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncateUTF8(s, n-len("…")) + "…"
}

func truncateUTF8(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// safeURL is u if it is an absolute http(s) URL, with the characters that
// could end a Markdown link destination escaped; otherwise "".
func safeURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return ""
	}
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E", "\n", "", "\r", "").Replace(p.String())
}

// ErrorMarkdown is the summary of an evaluation that produced no report
// (the commit could not be fetched, the trust root is missing): a heading
// with title and the error, both escaped as the summary's cells are, within
// o.Limit bytes, and a link to o.ReportURL when it is known.
func ErrorMarkdown(title, detail string, o MarkdownOptions) string {
	limit := o.Limit
	if limit <= 0 {
		limit = GitHubTextLimit
	}
	link := ""
	if u := safeURL(o.ReportURL); u != "" {
		link = "\n[See the evaluation](" + u + ").\n"
	}
	head := "## ⚠️ gitops-gate: " + mdText(title, maxCell) + "\n\n"
	return head + mdText(detail, max(limit-len(head)-len(link)-len("…")*2, 0)/2) + "\n" + link
}
