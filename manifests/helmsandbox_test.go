package manifests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// The test binary doubles as the sandbox's child: the parent runs it again
// with this variable set.
const helmChildEnv = "GITOPS_GATE_TEST_HELM_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(helmChildEnv) == "1" {
		os.Exit(RunHelmChild(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

func testSandbox(timeout time.Duration, memory int64) *HelmSandbox {
	return &HelmSandbox{Command: []string{os.Args[0]}, Env: []string{helmChildEnv + "=1"}, Timeout: timeout, MemoryLimit: memory}
}

// TestHelmSandboxMatchesInProcess renders the corpus both ways: the child
// must see the same values (types included) and produce the same images.
func TestHelmSandboxMatchesInProcess(t *testing.T) {
	inProc, err := json.Marshal(scan(t, corpusDir, Options{}))
	if err != nil {
		t.Fatal(err)
	}
	sandboxed, err := json.Marshal(scan(t, corpusDir, Options{HelmSandbox: testSandbox(time.Minute, 0)}))
	if err != nil {
		t.Fatal(err)
	}
	if string(inProc) != string(sandboxed) {
		t.Errorf("sandboxed render differs:\n%s", lineDiff(string(inProc), string(sandboxed)))
	}
}

// TestHelmSandboxValueTypes passes every shape of user value through the
// child; a template that checks kinds must see what Helm would give it.
func TestHelmSandboxValueTypes(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"chart/Chart.yaml":  "apiVersion: v2\nname: kinds\nversion: 0.1.0\n",
		"chart/values.yaml": "image: registry.example/x\n",
		"chart/templates/pod.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    kinds: "{{ kindOf .Values.n }} {{ kindOf .Values.f }} {{ kindOf .Values.s }} {{ kindOf .Values.b }} {{ kindOf .Values.l }} {{ kindOf .Values.m }} {{ kindOf .Values.z }} {{ .Values.n }}"
spec:
  containers:
  - name: c
    image: {{ .Values.image }}:{{ .Values.tag }}
`,
		"vals.yaml": "f: 1.5\nl: [1, a]\nm: {k: v}\nz: null\n",
	})
	app := App{Name: "kinds", Path: "chart", Kind: KindHelm}
	app.Helm.ValueFiles = []string{"/vals.yaml"}
	app.Helm.Parameters = []HelmParameter{{Name: "n", Value: "3"}, {Name: "s", Value: "x", ForceString: true}, {Name: "b", Value: "true"}, {Name: "tag", Value: "v1"}}
	annotation := func(o Options) string {
		repo, err := Open(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		rd := repo.Render(context.Background(), app)
		if rd.Err != nil {
			t.Fatal(rd.Err)
		}
		if refs := rd.Images(nil); len(refs) != 1 || refs[0].Image != "registry.example/x:v1" {
			t.Fatalf("images %+v", refs)
		}
		return nodeString(rd.Resources[0].Node, "metadata", "annotations", "kinds")
	}
	want := annotation(Options{})
	if got := annotation(Options{HelmSandbox: testSandbox(time.Minute, 0)}); got != want {
		t.Errorf("kinds in the sandbox %q, in process %q", got, want)
	}
	if want != "int64 float64 string bool slice map invalid 3" {
		t.Errorf("kinds in process %q", want)
	}
}

// TestHelmSandboxStopsHostileCharts renders charts that never finish: each
// ends in an error naming the limit it hit, and the other app still
// renders. The charts that eat memory get a deadline long enough that only
// their memory can stop them, even on a loaded machine (with the heap held
// near its limit the collector slows them down).
func TestHelmSandboxStopsHostileCharts(t *testing.T) {
	chart := func(name, tmpl string) map[string]string {
		return map[string]string{
			name + "/Chart.yaml":          "apiVersion: v2\nname: " + name + "\nversion: 0.1.0\n",
			name + "/templates/loop.yaml": tmpl,
		}
	}
	for _, c := range []struct {
		timeout time.Duration
		charts  map[string]string // name: template
		want    map[string]string // name: error
	}{{
		timeout: 3 * time.Second,
		charts: map[string]string{
			// CPU only: a nested loop that prints nothing.
			"spin": "{{ range $i := until 100000 }}{{ range $j := until 100000 }}{{ end }}{{ end }}\n",
			// Recursion through include (Helm stops it itself).
			"recurse": "{{ define \"r\" }}{{ include \"r\" . }}{{ end }}{{ include \"r\" . }}\n",
		},
		want: map[string]string{
			"spin":    "templates still rendering after 3s (a template that loops?); stopped",
			"recurse": "rendering template has a nested reference name: r",
		},
	}, {
		timeout: time.Minute,
		charts: map[string]string{
			// Output without end.
			"flood": "{{ range $i := 1000000000000 }}- line {{ $i }} of a template that never stops printing\n{{ end }}",
			// One list that grows without end.
			"alloc": "{{ $l := until 4000000000 }}{{ len $l }}\n",
		},
		want: map[string]string{
			"flood": "templates used more than 256 MiB of memory; stopped",
			"alloc": "templates used more than 256 MiB of memory; stopped",
		},
	}} {
		files := map[string]string{"fine/d.yaml": goodDeployment}
		for name, tmpl := range c.charts {
			for p, content := range chart(name, tmpl) {
				files[p] = content
			}
		}
		inv := scan(t, writeTree(t, files), Options{HelmSandbox: testSandbox(c.timeout, 256<<20)})
		for name, want := range c.want {
			if e := appByName(t, inv, name).Error; !strings.Contains(e, want) || !strings.Contains(e, "Helm chart "+name) {
				t.Errorf("%s: error %q, want %q", name, e, want)
			}
		}
		if len(appByName(t, inv, "fine").Images) != 1 {
			t.Error("the other app should still render")
		}
	}
}

// TestHelmSandboxCancellation: the evaluation's end stops the child and is
// reported as such, not as a template problem.
func TestHelmSandboxCancellation(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"spin/Chart.yaml":          "apiVersion: v2\nname: spin\nversion: 0.1.0\n",
		"spin/templates/loop.yaml": "{{ range $i := until 100000 }}{{ range $j := until 100000 }}{{ end }}{{ end }}\n",
	})
	repo, err := Open(dir, Options{HelmSandbox: testSandbox(time.Minute, 0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	rd := repo.Render(ctx, App{Name: "spin", Path: "spin", Kind: KindHelm})
	if !errors.Is(rd.Err, context.DeadlineExceeded) || errors.Is(rd.Err, ErrHelmLimit) {
		t.Errorf("err = %v, want the context's deadline", rd.Err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("child outlived its context by %v", d)
	}
}

// nodeString follows mapping keys from n and returns the scalar there.
func nodeString(n *yaml.Node, keys ...string) string {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, k := range keys {
		var next *yaml.Node
		for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return ""
		}
		n = next
	}
	return n.Value
}

// BenchmarkHelmChart renders the corpus's helm-guestbook chart in process
// and in the sandbox: the difference is the price of the bound.
func BenchmarkHelmChart(b *testing.B) {
	for _, mode := range []struct {
		name string
		sb   *HelmSandbox
	}{{"in-process", nil}, {"sandbox", testSandbox(time.Minute, 0)}} {
		b.Run(mode.name, func(b *testing.B) {
			repo, err := Open(corpusDir, Options{HelmSandbox: mode.sb})
			if err != nil {
				b.Fatal(err)
			}
			app := App{Name: "helm-guestbook", Path: "helm-guestbook", Kind: KindHelm}
			for b.Loop() {
				if rd := repo.Render(context.Background(), app); rd.Err != nil || len(rd.Resources) == 0 {
					b.Fatal(rd.Err)
				}
			}
		})
	}
}

// TestHelmSandboxReplacesKilledChildren: a child is kept between charts,
// and one killed at the deadline is replaced, not reused.
func TestHelmSandboxReplacesKilledChildren(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"spin/Chart.yaml":          "apiVersion: v2\nname: spin\nversion: 0.1.0\n",
		"spin/templates/loop.yaml": "{{ range $i := until 100000 }}{{ range $j := until 100000 }}{{ end }}{{ end }}\n",
	})
	sb := testSandbox(time.Second, 0)
	defer sb.Close()
	renderGood := renderGuestbookOnce(t, sb)
	hostile, err := Open(dir, Options{HelmSandbox: sb})
	if err != nil {
		t.Fatal(err)
	}
	kept := sb.Idle()[0]
	if rd := hostile.Render(context.Background(), App{Name: "spin", Path: "spin", Kind: KindHelm}); !errors.Is(rd.Err, ErrHelmLimit) {
		t.Fatalf("spin: %v", rd.Err)
	}
	if len(sb.Idle()) != 0 || kept.ProcessState == nil {
		t.Fatalf("the child that ran the loop was not killed (idle %d)", len(sb.Idle()))
	}
	if err := renderGood(); err != nil {
		t.Fatalf("after a killed child: %v", err)
	}
	if len(sb.Idle()) != 1 || sb.Idle()[0] == kept {
		t.Fatal("a new child should have replaced the killed one")
	}
	last := sb.Idle()[0]
	sb.Close()
	if last.ProcessState == nil || !last.ProcessState.Success() {
		t.Errorf("Close: child state %v, want a clean exit at the end of its input", last.ProcessState)
	}
}

// TestHelmSandboxIdleChildKilled: a kept child killed from outside while
// idle (an OOM killer, an operator) costs nothing: the next chart gets a
// new child.
func TestHelmSandboxIdleChildKilled(t *testing.T) {
	sb := testSandbox(time.Minute, 0)
	defer sb.Close()
	renderGood := renderGuestbookOnce(t, sb)
	sb.Idle()[0].Process.Kill()
	sb.Idle()[0].Process.Wait()
	if err := renderGood(); err != nil {
		t.Fatalf("after the idle child was killed: %v", err)
	}
}

// renderGuestbookOnce renders the corpus's helm-guestbook chart in sb,
// checks that one child is then kept, and returns a function that renders
// it again.
func renderGuestbookOnce(t *testing.T, sb *HelmSandbox) func() error {
	t.Helper()
	repo, err := Open(corpusDir, Options{HelmSandbox: sb})
	if err != nil {
		t.Fatal(err)
	}
	render := func() error {
		rd := repo.Render(context.Background(), App{Name: "helm-guestbook", Path: "helm-guestbook", Kind: KindHelm})
		if rd.Err == nil && len(rd.Resources) == 0 {
			return errors.New("no resources")
		}
		return rd.Err
	}
	if err := render(); err != nil {
		t.Fatal(err)
	}
	if len(sb.Idle()) != 1 {
		t.Fatalf("%d idle children after one chart, want 1", len(sb.Idle()))
	}
	return render
}

// BenchmarkHelmApps500 scans a repository of 500 copies of the corpus's
// helm-guestbook chart, in process and in the sandbox: the price of the
// bound on a repository of many charts.
func BenchmarkHelmApps500(b *testing.B) {
	dir := b.TempDir()
	src := corpusDir + "/helm-guestbook"
	for i := range 500 {
		if err := os.CopyFS(fmt.Sprintf("%s/charts/c%03d", dir, i), os.DirFS(src)); err != nil {
			b.Fatal(err)
		}
	}
	for _, mode := range []struct {
		name string
		sb   *HelmSandbox
	}{{"in-process", nil}, {"sandbox", testSandbox(time.Minute, 0)}} {
		b.Run(mode.name, func(b *testing.B) {
			if mode.sb != nil {
				defer mode.sb.Close()
			}
			for b.Loop() {
				repo, err := Open(dir, Options{HelmSandbox: mode.sb})
				if err != nil {
					b.Fatal(err)
				}
				inv, _, err := repo.Scan(context.Background(), ScanOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if len(inv.Apps) != 500 || inv.Apps[0].Error != "" || len(inv.Apps[0].Images) != 1 {
					b.Fatalf("%d apps, first %+v", len(inv.Apps), inv.Apps[0])
				}
			}
		})
	}
}

// TestHelmSandboxMaxOutput: a chart whose manifests pass MaxOutput fails,
// naming the size, without killing its child.
func TestHelmSandboxMaxOutput(t *testing.T) {
	sb := testSandbox(time.Minute, 0)
	sb.MaxOutput = 100
	defer sb.Close()
	repo, err := Open(corpusDir, Options{HelmSandbox: sb})
	if err != nil {
		t.Fatal(err)
	}
	rd := repo.Render(context.Background(), App{Name: "helm-guestbook", Path: "helm-guestbook", Kind: KindHelm})
	if !errors.Is(rd.Err, ErrHelmLimit) || !strings.Contains(rd.Err.Error(), "is larger than 100; stopped") || len(rd.Resources) != 0 {
		t.Errorf("err %v, %d resources", rd.Err, len(rd.Resources))
	}
	if len(sb.Idle()) != 1 {
		t.Errorf("%d idle children: the child should be kept", len(sb.Idle()))
	}
}
