package github

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzInterpret: a webhook payload (already authenticated, so as hostile as
// a compromised secret allows) never panics the parser, and an event the
// gate acts on names a valid repository and a full commit SHA (the clone
// URL, when missing, is derived from the configured GitHub).
func FuzzInterpret(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/github-webhooks/*.payload.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		event, _, _ := strings.Cut(filepath.Base(p), ".")
		f.Add(event, b)
	}
	f.Fuzz(func(t *testing.T, event string, payload []byte) {
		ev, err := Interpret(&Delivery{ID: "fuzz", Event: event, Payload: payload})
		if err != nil || ev.Ignore != "" {
			return
		}
		if ev.Kind == "ping" {
			return
		}
		if CheckRepo("repo", ev.Repo) != nil || !ValidSHA(ev.SHA) {
			t.Fatalf("acting on an event without a valid repository or SHA: %+v", ev)
		}
	})
}
