package web_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/gate/store/storetest"
)

// replica is one `gitops-gate serve` process.
type replica struct {
	t      *testing.T
	bin    string
	config string
	addr   string
	log    *os.File
	cmd    *exec.Cmd
}

func (r *replica) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "serve", "--config", r.config)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + r.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("replica %s not ready; see %s", r.addr, r.log.Name())
}

func (r *replica) kill() {
	r.cmd.Process.Signal(syscall.SIGKILL)
	r.cmd.Wait()
}

// TestReplicasOnPostgres runs three serve processes on one PostgreSQL and
// sends them 500 webhook deliveries (redeliveries and superseding commits
// among them) while one replica is killed with SIGKILL and restarted. Every
// delivery must be evaluated once and every final status posted once.
func TestReplicasOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts PostgreSQL")
	}
	dsn := storetest.Postgres(t)(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "gitops-gate")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/gitops-gate").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	world, git, gh := gatetest.NewWorld(t), gatetest.NewGitServer(t), fakegithub.New(t)
	repo := git.NewRepo("acme/gitops")
	ctx := context.Background()
	d, err := world.PushImage(ctx, "acme/api:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := world.Sigstore.SignImage(ctx, d, gatetest.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	repo.Commit("api", map[string]string{"apps/api/deploy.yaml": deployment("api", d.String())})

	// 300 pull requests opened; every third also gets a second commit
	// (synchronize) and every third opening is redelivered: 500 deliveries.
	const prs = 300
	shas := repo.CommitChain("change", prs+prs/3)
	refs := map[string]string{}
	type delivery struct {
		id      string
		payload []byte
	}
	g := &gateEnv{t: t, repo: repo}
	var deliveries []delivery
	for i := 0; i < prs; i++ {
		pr := 100 + i
		refs[fmt.Sprintf("refs/pull/%d/head", pr)] = shas[i]
		deliveries = append(deliveries, delivery{fmt.Sprintf("open-%d", pr), g.payload("opened", pr, shas[i])})
		if i%3 == 0 {
			deliveries = append(deliveries, delivery{fmt.Sprintf("open-%d", pr), g.payload("opened", pr, shas[i])})
			// The ref moves on; the first commit stays reachable from it.
			sha := shas[prs+i/3]
			refs[fmt.Sprintf("refs/pull/%d/head", pr)] = sha
			deliveries = append(deliveries, delivery{fmt.Sprintf("sync-%d", pr), g.payload("synchronize", pr, sha)})
		}
	}
	repo.SetRefs(refs)

	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte(strings.ReplaceAll(e2ePolicy, "REGISTRY", world.Registry.Host)), 0o644)
	reps := make([]*replica, 3)
	for i := range reps {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cfg := filepath.Join(dir, fmt.Sprintf("config-%d.yaml", i))
		os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: %s
dataDir: %s
externalURL: https://gate.example.com
store: {driver: postgres, dsn: %q}
github: {baseURL: %s/, token: ghp_test, webhookSecret: %s}
repos:
  - name: acme/gitops
    policies: [%s]
    trustedRoot: %s
workers: 2
leaseTimeout: 3s
registries: {deny: []} # the test registry listens on loopback
log: {format: json, level: warn}
`, addr, filepath.Join(dir, fmt.Sprintf("data-%d", i)), dsn, gh.Server.URL, secret, pol, world.TrustedRootPath)), 0o644)
		logf, _ := os.Create(filepath.Join(dir, fmt.Sprintf("replica-%d.log", i)))
		reps[i] = &replica{t: t, bin: bin, config: cfg, addr: addr, log: logf}
		reps[i].start()
		t.Cleanup(reps[i].kill)
	}

	// A load balancer in front: round-robin, and a delivery that finds its
	// replica dead goes to the next one (GitHub would redeliver it).
	var mu sync.Mutex
	dead := map[int]bool{}
	post := func(n int, d delivery) int {
		for try := 0; try < 2*len(reps); try++ {
			i := (n + try) % len(reps)
			mu.Lock()
			down := dead[i]
			mu.Unlock()
			if down {
				continue
			}
			req, _ := http.NewRequest(http.MethodPost, "http://"+reps[i].addr+"/webhooks/github", bytes.NewReader(d.payload))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "pull_request")
			req.Header.Set("X-GitHub-Delivery", d.id)
			m := hmac.New(sha256.New, []byte(secret))
			m.Write(d.payload)
			req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return resp.StatusCode
			}
		}
		t.Errorf("delivery %s accepted by no replica", d.id)
		return 0
	}
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				post(n, deliveries[n])
			}
		}()
	}
	for n := range deliveries {
		if n == len(deliveries)/2 {
			mu.Lock()
			dead[0] = true
			mu.Unlock()
			reps[0].kill()
		}
		if n == len(deliveries)*3/4 {
			reps[0].start()
			mu.Lock()
			dead[0] = false
			mu.Unlock()
		}
		work <- n
	}
	close(work)
	wg.Wait()
	accepted := time.Since(start)

	// Wait for the queue to drain: every evaluation done or superseded.
	st, err := store.OpenPostgres(ctx, dsn, store.PostgresOptions{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var evals []*store.Evaluation
	deadline := time.Now().Add(3 * time.Minute)
	for {
		evals = evals[:0]
		for off := 0; ; off += 500 {
			page, _, err := st.List(ctx, store.Filter{Limit: 500, Offset: off})
			if err != nil {
				t.Fatal(err)
			}
			evals = append(evals, page...)
			if len(page) < 500 {
				break
			}
		}
		q, err := st.QueueDepth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if q[store.JobEvaluate] == 0 && q[store.JobStatus] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained after 3m: %v", q)
		}
		time.Sleep(100 * time.Millisecond)
	}
	drained := time.Since(start)

	finals := map[string]int{}
	for _, s := range gh.Statuses() {
		if s.State != "pending" {
			finals[s.SHA]++
		}
	}
	unique := prs + prs/3
	var evaluated, superseded, lost, double, other int
	for _, e := range evals {
		switch e.State {
		case store.StateDone:
			evaluated++
		case store.StateSuperseded:
			superseded++
		default:
			other++
			t.Errorf("evaluation %s (%s) ended %s: %s", e.ID, e.Spec.SHA, e.State, e.Error)
		}
		if e.State == store.StateDone && e.Result != "pass" {
			t.Errorf("evaluation %s: %s, want pass: %s", e.ID, e.Result, e.Summary)
		}
		switch n := finals[e.Spec.SHA]; {
		case n == 0:
			lost++
		case n > 1:
			double++
		}
	}
	posted := 0
	for _, n := range finals {
		posted += n
	}
	fmt.Printf("replicas on PostgreSQL: %d deliveries (%d unique) to 3 replicas, one SIGKILLed and restarted mid-burst: accepted %d in %v, evaluated %d, duplicates dropped %d, superseded %d, final statuses posted %d, lost %d, double %d; queue drained in %v\n",
		len(deliveries), unique, len(evals), accepted.Round(time.Millisecond), evaluated, len(deliveries)-len(evals), superseded, posted, lost, double, drained.Round(time.Millisecond))
	if len(evals) != unique {
		t.Errorf("%d evaluations, want one per unique delivery (%d)", len(evals), unique)
	}
	if lost != 0 || double != 0 || other != 0 || evaluated+superseded != unique {
		t.Errorf("lost %d, double %d, unfinished %d", lost, double, other)
	}
	if bad := gh.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would refuse: %v", bad)
	}
}
