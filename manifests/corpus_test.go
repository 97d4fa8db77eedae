package manifests

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

const corpusDir = "../testdata/corpus/argocd-example-apps"

// TestCorpusGolden checks the images of every app of Argo CD's example
// repository against a golden file verified by reading the manifests.
func TestCorpusGolden(t *testing.T) {
	inv := scan(t, corpusDir, Options{})
	got, err := json.MarshalIndent(inv, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("..", "testdata", "corpus", "argocd-example-apps.images.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("images differ from %s (run with -update and review the diff):\n%s", golden, lineDiff(string(want), string(got)))
	}
}

// TestCorpusEveryAppAccountedFor checks the outcome of every app: it renders
// with images, or fails with the documented error for what it needs.
func TestCorpusEveryAppAccountedFor(t *testing.T) {
	inv := scan(t, corpusDir, Options{})
	want := map[string]struct {
		images int
		err    string
	}{
		"apps":                           {0, ""}, // the app-of-apps chart: Applications only
		"example.blue-green":             {1, ""},
		"example.guestbook":              {1, ""},
		"example.helm-dependency":        {0, "chart dependency wordpress 9.0.3: repository https://charts.helm.sh/stable is not allowed"},
		"example.helm-guestbook":         {1, ""},
		"example.helm-hooks":             {4, ""},
		"example.jsonnet-guestbook":      {1, ""}, // gcr.io/google-samples/gb-frontend:v5, from params.libsonnet
		"example.jsonnet-guestbook-tla":  {1, ""}, // the same image, the TLA default
		"example.kustomize-guestbook":    {1, ""},
		"example.plugin-kasane":          {0, `spec.source.plugin "kasane"`},
		"example.plugin-kustomized-helm": {0, `spec.source.plugin "kustomized-helm"`},
		"example.plugin-nix":             {0, `spec.source.plugin "nix"`},
		"example.pre-post-sync":          {3, ""},
		"example.sock-shop":              {15, ""},
		"example.sync-waves":             {5, ""},
	}
	if len(inv.Apps) != len(want) {
		t.Errorf("got %d apps, want %d", len(inv.Apps), len(want))
	}
	for _, a := range inv.Apps {
		w, ok := want[a.Name]
		if !ok {
			t.Errorf("unexpected app %q", a.Name)
			continue
		}
		if len(a.Images) != w.images {
			t.Errorf("%s: %d images, want %d", a.Name, len(a.Images), w.images)
		}
		if w.err == "" && a.Error != "" {
			t.Errorf("%s: unexpected error %s", a.Name, a.Error)
		}
		if w.err != "" && !strings.Contains(a.Error, w.err) {
			t.Errorf("%s: error %q, want it to contain %q", a.Name, a.Error, w.err)
		}
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g + "\n")
			if shown++; shown > 10 {
				break
			}
		}
	}
	return b.String()
}
