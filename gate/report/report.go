// Package report writes an evaluation for people and tools: a table for the
// terminal, the versioned JSON contract of docs/output.md, and SARIF 2.1.0
// with file and line locations for GitHub code scanning.
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/gitops-gate/gitops-gate/gate"
)

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, rep *gate.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteTable writes one line per image (status, image, short digest,
// signer, reason), the apps that could not be rendered, and a summary.
func WriteTable(w io.Writer, rep *gate.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tAPP\tIMAGE\tDIGEST\tSIGNER\tLOCATION\tREASON")
	for _, a := range rep.Apps {
		for _, im := range a.Images {
			loc := im.File
			if im.Line > 0 {
				loc = fmt.Sprintf("%s:%d", im.File, im.Line)
			}
			// Every cell is one safe line: a name or reason from the
			// repository must not start a line of its own in a CI log.
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(string(im.Status)), plainLine(a.Name), plainLine(im.Image),
				plainLine(ShortDigest(im.Digest)), plainLine(signer(im)), plainLine(loc), plainLine(im.Reason))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	first := true
	for _, a := range rep.Apps {
		if a.Error == "" {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nApps that could not be rendered (their images were not checked):")
			first = false
		}
		lines := strings.Split(a.Error, "\n")
		for i := range lines {
			lines[i] = plainLine(lines[i])
			if strings.HasPrefix(strings.TrimSpace(lines[i]), "::") { // a workflow command
				lines[i] = "\uFFFD" + lines[i]
			}
		}
		fmt.Fprintf(w, "  %s (%s): %s\n", plainLine(a.Name), plainLine(a.Path), strings.Join(lines, "\n    "))
	}
	first = true
	for _, a := range rep.Apps {
		for _, wn := range a.Warnings {
			if first {
				fmt.Fprintln(w, "\nWarnings (image fields the gate does not judge; --strict fails them):")
				first = false
			}
			loc := wn.File
			if wn.Line > 0 {
				loc = fmt.Sprintf("%s:%d", wn.File, wn.Line)
			}
			fmt.Fprintf(w, "  WARNING %s %s %s: %s\n", plainLine(a.Name), plainLine(wn.Image), plainLine(loc), plainLine(wn.Message))
		}
	}
	_, err := fmt.Fprintf(w, "\n%s\n", Summary(rep))
	return err
}

// Summary is the one-line outcome, e.g. "FAIL: 14 images: 11 verified,
// 2 failed (api, worker), 1 not verified: no rule matches it (jobs)".
func Summary(rep *gate.Report) string {
	s := rep.Summary
	parts := []string{fmt.Sprintf("%d verified", s.Passed)}
	add := func(n int, what string, st gate.Status) {
		if n == 0 {
			return
		}
		apps := rep.AppsWith(st)
		if len(apps) > 0 && len(apps) <= 3 {
			// Names come from the repository: keep the summary one line,
			// since it ends up in logs and exit messages.
			parts = append(parts, fmt.Sprintf("%d %s (%s)", n, what, plainLine(strings.Join(apps, ", "))))
		} else {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(s.Failed, "failed", gate.StatusFail)
	add(s.Errors, "errors", gate.StatusError)
	add(s.Audit, "audit", gate.StatusAudit)
	add(s.Skipped, "skipped", gate.StatusSkipped)
	// An unmatched image passes unverified: the summary says so in words.
	add(s.Unmatched, "not verified: no rule matches "+pronoun(s.Unmatched), gate.StatusUnmatched)
	out := fmt.Sprintf("%s: %d images: %s", strings.ToUpper(string(rep.Result)), s.Images, strings.Join(parts, ", "))
	if s.AppErrors > 0 {
		out += fmt.Sprintf("; %d of %d apps could not be rendered", s.AppErrors, s.Apps)
	}
	if s.Warnings > 0 {
		out += fmt.Sprintf("; %d warnings", s.Warnings)
	}
	return out
}

func pronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// ShortDigest is the first 12 hex characters of a digest.
func ShortDigest(d string) string {
	_, hexPart, ok := strings.Cut(d, ":")
	if !ok || len(hexPart) < 12 {
		return d
	}
	return hexPart[:12]
}

func signer(im gate.ImageVerdict) string {
	if im.Signer == nil {
		return ""
	}
	if im.Signer.PublicKey != "" {
		return "key " + im.Signer.PublicKey
	}
	if im.Signer.GitHubWorkflowRepository != "" {
		return im.Signer.GitHubWorkflowRepository + "@" + im.Signer.GitHubWorkflowRef
	}
	return im.Signer.Subject
}

// Provenance lists the attestations found for an image in one line:
// type, signer and, for SLSA provenance, builder, source and commit.
func Provenance(im gate.ImageVerdict) string {
	var parts []string
	for _, st := range im.Attestations {
		p := st.PredicateType
		if st.Signer != nil {
			p += " signed by " + st.Signer.String()
		}
		if pr := st.Provenance; pr != nil {
			var d []string
			if pr.BuilderID != "" {
				d = append(d, "builder "+pr.BuilderID)
			}
			if pr.SourceRepository != "" {
				src := "source " + pr.SourceRepository
				if pr.SourceRef != "" {
					src += "@" + pr.SourceRef
				}
				d = append(d, src)
			}
			if pr.SourceCommit != "" {
				d = append(d, "commit "+pr.SourceCommit)
			}
			if len(d) > 0 {
				p += " (" + strings.Join(d, ", ") + ")"
			}
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// SARIF 2.1.0, the subset GitHub code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	Name                 string       `json:"name"`
	ShortDescription     sarifText    `json:"shortDescription"`
	FullDescription      sarifText    `json:"fullDescription"`
	DefaultConfiguration sarifDefault `json:"defaultConfiguration"`
}

type sarifDefault struct {
	Level string `json:"level"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	// Properties carry the attestations found and the failed condition
	// (SARIF's property bag), for tools that read more than the message.
	Properties *sarifProperties `json:"properties,omitempty"`
}

type sarifProperties struct {
	Attestations    any `json:"attestations,omitempty"`
	FailedCondition any `json:"failedCondition,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

var sarifRules = []sarifRule{
	{ID: "GG001", Name: "ImageNotVerified", ShortDescription: sarifText{"Image is not signed by a trusted identity"},
		FullDescription: sarifText{"A policy rule applies to this image and its signatures do not satisfy the rule's attestors."}, DefaultConfiguration: sarifDefault{"error"}},
	{ID: "GG002", Name: "ImageNotChecked", ShortDescription: sarifText{"Image could not be checked"},
		FullDescription: sarifText{"The gate could not decide (registry error, missing trust root, unusable image field); the change does not pass."}, DefaultConfiguration: sarifDefault{"error"}},
	{ID: "GG003", Name: "ImageAudit", ShortDescription: sarifText{"Image fails an Audit rule"},
		FullDescription: sarifText{"An Audit rule is not satisfied: reported, not enforced."}, DefaultConfiguration: sarifDefault{"warning"}},
	{ID: "GG004", Name: "AppNotRendered", ShortDescription: sarifText{"App could not be rendered"},
		FullDescription: sarifText{"The app's manifests could not be rendered, so its images were not checked."}, DefaultConfiguration: sarifDefault{"error"}},
	{ID: "GG005", Name: "UnknownImageField", ShortDescription: sarifText{"Image field the gate does not judge"},
		FullDescription: sarifText{"A resource of a kind the gate has no extractor for has an image field; whether it runs is unknown, so it is not verified (--strict fails it)."}, DefaultConfiguration: sarifDefault{"warning"}},
}

// WriteSARIF writes every non-passing image and every app that could not
// be rendered as a SARIF result located at its file and line.
func WriteSARIF(w io.Writer, rep *gate.Report, version string) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "gitops-gate", Version: version,
		InformationURI: "https://github.com/gitops-gate/gitops-gate", Rules: sarifRules}}, Results: []sarifResult{}}
	for _, a := range rep.Apps {
		if a.Error != "" {
			run.Results = append(run.Results, sarifResult{RuleID: "GG004", Level: "error",
				Message:             sarifText{fmt.Sprintf("App %s could not be rendered: %s", a.Name, a.Error)},
				Locations:           []sarifLocation{location(a.Path, 0)},
				PartialFingerprints: fingerprint("app", a.Name, a.Path)})
		}
		for _, wn := range a.Warnings {
			run.Results = append(run.Results, sarifResult{RuleID: "GG005", Level: "warning",
				Message:             sarifText{fmt.Sprintf("%s (%s %s/%s, %s): %s", wn.Image, a.Name, wn.Resource.Kind, wn.Resource.Name, wn.FieldPath, wn.Message)},
				Locations:           []sarifLocation{location(wn.File, wn.Line)},
				PartialFingerprints: fingerprint("warning", a.Name, wn.Resource.String(), wn.FieldPath, wn.Image)})
		}
		for _, im := range a.Images {
			var id, level string
			switch im.Status {
			case gate.StatusFail:
				id, level = "GG001", "error"
			case gate.StatusError:
				id, level = "GG002", "error"
			case gate.StatusAudit:
				id, level = "GG003", "warning"
			default:
				continue
			}
			msg := fmt.Sprintf("%s (%s %s/%s, %s): %s", im.Image, a.Name, im.Resource.Kind, im.Resource.Name, im.FieldPath, im.Reason)
			if im.Rule != "" {
				msg += " [rule " + im.Rule + "]"
			}
			if p := Provenance(im); p != "" {
				msg += " Attestations found: " + p + "."
			}
			res := sarifResult{RuleID: id, Level: level, Message: sarifText{msg},
				Locations:           []sarifLocation{location(im.File, im.Line)},
				PartialFingerprints: fingerprint(a.Name, im.Resource.String(), im.FieldPath, im.Image)}
			if len(im.Attestations) > 0 || im.FailedCondition != nil {
				res.Properties = &sarifProperties{FailedCondition: im.FailedCondition}
				if len(im.Attestations) > 0 {
					res.Properties.Attestations = im.Attestations
				}
			}
			run.Results = append(run.Results, res)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

func location(file string, line int) sarifLocation {
	l := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: file}}}
	if line > 0 {
		l.PhysicalLocation.Region = &sarifRegion{StartLine: line}
	}
	return l
}

// fingerprint identifies a finding across runs, so code scanning tracks it
// rather than opening a new alert each time.
func fingerprint(parts ...string) map[string]string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return map[string]string{"gitopsGateFinding/v1": hex.EncodeToString(h[:16])}
}
