package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
)

// buildBinary builds gitops-gate once for the process tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gitops-gate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type process struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
}

func startGate(t *testing.T, bin, config, addr string) *process {
	t.Helper()
	p := &process{addr: addr, log: &bytes.Buffer{}}
	p.cmd = exec.Command(bin, "serve", "--config", config, "--listen", addr)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gate did not start:\n%s", p.log)
	return nil
}

func TestKill9LosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildBinary(t)
	w := gatetest.NewWorld(t)
	ctx := context.Background()
	d, err := w.PushImage(ctx, "acme/api:v1")
	if err != nil {
		t.Fatal(err)
	}
	w.Sigstore.SignImage(ctx, d, gatetest.SignOptions{})
	gs := gatetest.NewGitServer(t)
	repo := gs.NewRepo("acme/gitops")
	gh := fakegithub.New(t)

	const deliveries = 24
	shas := make([]string, deliveries)
	for i := range shas {
		shas[i] = repo.Commit(fmt.Sprintf("pr %d", i+1), map[string]string{
			fmt.Sprintf("apps/app-%02d/deploy.yaml", i): fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p%d}\nspec:\n  containers: [{name: c, image: %s}]\n", i, d.String()),
		})
		repo.SetRef(fmt.Sprintf("refs/pull/%d/head", i+1), shas[i])
	}
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte(strings.ReplaceAll(checkPolicy, "REGISTRY", w.Registry.Host)), 0o644)
	config := filepath.Join(dir, "config.yaml")
	os.WriteFile(config, []byte(fmt.Sprintf(`dataDir: %s
github: {baseURL: %s/, token: ghp_test, webhookSecret: s3cret}
repos:
  - {name: acme/gitops, policies: [%s], trustedRoot: %s}
workers: 2
leaseTimeout: 2s
registries: {deny: []} # the test registry listens on loopback
log: {format: text}
`, filepath.Join(dir, "data"), gh.Server.URL, pol, w.TrustedRootPath)), 0o644)
	// Slow registry: evaluations are in flight when the process dies.
	w.Registry.SetFaults(gatetest.Faults{Latency: 150 * time.Millisecond})

	addr := freePort(t)
	p := startGate(t, bin, config, addr)
	payload, _ := os.ReadFile("../../testdata/github-webhooks/pull_request.opened.payload.json")
	for i := 0; i < deliveries; i++ {
		var body map[string]any
		json.Unmarshal(payload, &body)
		body["number"] = i + 1
		body["pull_request"].(map[string]any)["number"] = i + 1
		body["pull_request"].(map[string]any)["head"].(map[string]any)["sha"] = shas[i]
		body["repository"].(map[string]any)["full_name"] = "acme/gitops"
		body["repository"].(map[string]any)["clone_url"] = repo.CloneURL()
		b, _ := json.Marshal(body)
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(b)
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/github", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("crash-%d", i))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("delivery %d: %v %v", i, resp, err)
		}
		resp.Body.Close()
		if i == deliveries/2 {
			time.Sleep(300 * time.Millisecond) // some evaluations are now running
		}
	}
	// kill -9 with evaluations running and deliveries queued.
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	finalsBefore := finals(gh)

	p = startGate(t, bin, config, addr)
	defer func() { p.cmd.Process.Signal(syscall.SIGTERM); p.cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) && len(finals(gh)) < deliveries {
		time.Sleep(200 * time.Millisecond)
	}
	got := finals(gh)
	if len(got) != deliveries {
		t.Fatalf("%d of %d commits got a final status (%d before the kill)\n%s", len(got), deliveries, len(finalsBefore), p.log)
	}
	for _, sha := range shas {
		if got[sha] != "success" {
			t.Errorf("commit %s: final %q", sha, got[sha])
		}
	}
	// Nothing stuck: every evaluation is done, the queue empty.
	var list struct {
		Total       int
		Evaluations []struct{ State string }
	}
	resp, err := http.Get("http://" + addr + "/api/v1/evaluations?limit=100")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if list.Total != deliveries {
		t.Errorf("%d evaluations, want %d (one per accepted delivery)", list.Total, deliveries)
	}
	for _, e := range list.Evaluations {
		if e.State != "done" {
			t.Errorf("evaluation left %s", e.State)
		}
	}
	deadline = time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(metricsOf(t, addr), `gitops_gate_queue_depth{kind="status"} 0`) {
		time.Sleep(100 * time.Millisecond)
	}
	m := metricsOf(t, addr)
	if !strings.Contains(m, `gitops_gate_queue_depth{kind="evaluate"} 0`) || !strings.Contains(m, `gitops_gate_queue_depth{kind="status"} 0`) {
		t.Errorf("jobs left in the queue:\n%s", grep(m, "gitops_gate_queue_depth"))
	}
	t.Logf("%d deliveries accepted; %d final statuses before the kill, all %d after the restart; %d status posts in all",
		deliveries, len(finalsBefore), len(got), len(gh.Statuses()))
}

// finals maps each commit to its last non-pending status.
func finals(gh *fakegithub.GitHub) map[string]string {
	out := map[string]string{}
	for _, s := range gh.Statuses() {
		if s.State != "pending" {
			out[s.SHA] = s.State
		}
	}
	return out
}

func metricsOf(t *testing.T, addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
