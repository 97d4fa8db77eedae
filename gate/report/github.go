package report

import (
	"fmt"
	"io"
	"path"
	"strings"
	"unicode"

	"github.com/gitops-gate/gitops-gate/gate"
)

// GitHubOptions shape the workflow commands.
type GitHubOptions struct {
	// Warnings are printed as ::warning commands before the findings (a
	// missing trust root, for instance).
	Warnings []string
}

// maxAnnotation caps one annotation's message; the JSON report and the
// step summary carry the rest.
const maxAnnotation = 4000

// actionsAnnotationCap is how many annotations of one level GitHub shows
// per step; the rest only appear in the log.
const actionsAnnotationCap = 10

// WriteGitHub writes GitHub Actions workflow commands: an ::error at the
// file and line of every image occurrence that failed or could not be
// checked and of every app that could not be rendered, a ::warning for
// every audit finding and for opts.Warnings, then the one-line summary.
// Every value is escaped as the runner requires, so no repository string
// can end a command early or start a command of its own.
func WriteGitHub(w io.Writer, rep *gate.Report, opts GitHubOptions) error {
	var b strings.Builder
	errs, warns := 0, 0
	for _, m := range opts.Warnings {
		warns++
		writeCommand(&b, "warning", "", 0, "gitops-gate", m)
	}
	for _, a := range rep.Apps {
		if a.Error != "" {
			errs++
			writeCommand(&b, "error", a.Path, 0, "App not rendered: "+a.Name,
				fmt.Sprintf("App %s (%s) could not be rendered, so its images were not checked:\n%s", a.Name, a.Path, a.Error))
		}
		for _, im := range a.Images {
			var level, title string
			switch im.Status {
			case gate.StatusFail:
				level, title = "error", "Image not verified: "
				errs++
			case gate.StatusError:
				level, title = "error", "Image not checked: "
				errs++
			case gate.StatusAudit:
				level, title = "warning", "Audit rule not satisfied: "
				warns++
			default:
				continue
			}
			writeCommand(&b, level, im.File, im.Line, title+clip(plainLine(im.Image), maxCell), annotationMessage(a.Name, im))
		}
	}
	if errs > actionsAnnotationCap || warns > actionsAnnotationCap {
		writeCommand(&b, "notice", "", 0, "gitops-gate",
			fmt.Sprintf("%d errors and %d warnings: GitHub shows at most %d of each per step; the log above, the step summary and SARIF have them all.",
				errs, warns, actionsAnnotationCap))
	}
	b.WriteString(Summary(rep))
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func annotationMessage(app string, im gate.ImageVerdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (app %s, %s, %s): %s", im.Image, app, im.Resource.String(), im.FieldPath, im.Reason)
	for _, l := range []struct{ k, v string }{
		{"Expected signer", expectedSigner(im)}, {"Found signer", foundSigner(im)},
		{"Digest", im.Digest}, {"Rule", im.Rule},
	} {
		if l.v != "" {
			fmt.Fprintf(&b, "\n%s: %s", l.k, l.v)
		}
	}
	return b.String()
}

// writeCommand writes "::level file=…,line=…,title=…::message".
func writeCommand(b *strings.Builder, level, file string, line int, title, msg string) {
	b.WriteString("::")
	b.WriteString(level)
	var props []string
	if file != "" {
		props = append(props, "file="+escapeProperty(file))
	}
	if line > 0 {
		props = append(props, fmt.Sprintf("line=%d", line))
	}
	if title != "" {
		props = append(props, "title="+escapeProperty(clip(title, maxCell)))
	}
	if len(props) > 0 {
		b.WriteByte(' ')
		b.WriteString(strings.Join(props, ","))
	}
	b.WriteString("::")
	b.WriteString(escapeData(clip(printable(msg), maxAnnotation)))
	b.WriteByte('\n')
}

// printable keeps newlines (the runner shows them) but replaces other
// control characters and bidi controls, and invalid UTF-8, and breaks
// "##[" as plainLine does (the runner reads a line as a v2 command first,
// so this is only defence in depth).
func printable(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "##[", "##\uFFFD[")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case unicode.Is(unicode.Bidi_Control, r):
			return '\uFFFD'
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return ' '
		}
		return r
	}, s)
}

// escapeData escapes a command's message as the runner unescapes it
// (actions/toolkit's escapeData): %, CR and LF.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a command property (actions/toolkit's
// escapeProperty): as escapeData, plus ":" and "," which end a property.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(plainLine(s))
}

// WithPathPrefix returns a copy of rep whose file and app paths are
// prefixed with dir (slash-separated), for tools that locate findings
// relative to the repository root when DIR was a subdirectory of it (a
// workflow's annotations, SARIF for code scanning).
func WithPathPrefix(rep *gate.Report, dir string) *gate.Report {
	dir = path.Clean(strings.ReplaceAll(dir, `\`, "/"))
	if dir == "." || dir == "" {
		return rep
	}
	out := *rep
	out.Apps = make([]gate.AppVerdict, len(rep.Apps))
	for i, a := range rep.Apps {
		a.Path = path.Join(dir, a.Path)
		ims := make([]gate.ImageVerdict, len(a.Images))
		for j, im := range a.Images {
			if im.File != "" {
				im.File = path.Join(dir, im.File)
			}
			ims[j] = im
		}
		a.Images = ims
		out.Apps[i] = a
	}
	return &out
}

// Annotation is one finding at a file and line, as a check run shows it
// on the pull request's diff.
type Annotation struct {
	// File is the repository-relative path of the file the image is
	// written in (the app's path when the occurrence has no file).
	File string
	Line int
	// Level is GitHub's annotation_level: failure for an image that was
	// denied, warning for one that could not be checked, notice for an
	// audit finding.
	Level   string
	Title   string
	Message string
}

// Annotations lists a check run's annotations in report order: one per
// image occurrence that failed, could not be checked, or is an audit
// finding. Titles are one plain line, messages printable plain text (GitHub
// does not render Markdown in annotations), both clipped; a file name is
// one line of printable text, so that no repository string can reach the
// request as anything but a value.
func Annotations(rep *gate.Report) []Annotation {
	var out []Annotation
	for _, a := range rep.Apps {
		for _, im := range a.Images {
			var level, title string
			switch im.Status {
			case gate.StatusFail:
				level, title = "failure", "Image not verified: "
			case gate.StatusError:
				level, title = "warning", "Image not checked: "
			case gate.StatusAudit:
				level, title = "notice", "Audit rule not satisfied: "
			default:
				continue
			}
			file := im.File
			if file == "" {
				file = a.Path
			}
			file = path.Clean(strings.TrimPrefix(plainLine(file), "/"))
			out = append(out, Annotation{File: clip(file, maxCell*4), Line: max(im.Line, 1), Level: level,
				Title: clip(title+plainLine(im.Image), maxCell), Message: clip(printable(annotationMessage(a.Name, im)), maxAnnotation)})
		}
	}
	return out
}
