package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
)

// browser starts headless Chromium (Debian's package; make test installs
// it). Without it the test is skipped, unless GITOPS_GATE_REQUIRE_BROWSER
// is set, as make test sets it.
func browser(t *testing.T) (context.Context, *consoleLog) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("GITOPS_GATE_REQUIRE_BROWSER") != "" {
			t.Fatal("chromium is required (make test installs it)")
		}
		t.Skip("no chromium: run make test, which installs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("headless", true), chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	log := &consoleLog{}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			log.add("exception: " + e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				log.add("console.error")
			}
		case *page.EventJavascriptDialogOpening:
			log.add("dialog: " + e.Message) // a script ran: the test fails
		}
	})
	return ctx, log
}

type consoleLog struct {
	mu     sync.Mutex
	events []string
}

func (c *consoleLog) add(s string) { c.mu.Lock(); c.events = append(c.events, s); c.mu.Unlock() }
func (c *consoleLog) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...)
}

// page drives one tab; each helper fails the test on error.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (p tab) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	must(p.t, chromedp.Do(p.ctx, actions...))
}

func (p tab) open(url, waitFor string) {
	p.t.Helper()
	p.do(chromedp.Navigate(url), chromedp.WaitVisible(waitFor))
}

func (p tab) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(sel))
	must(p.t, err)
	return s
}

func (p tab) attr(sel, name string) string {
	p.t.Helper()
	r, err := chromedp.Run(p.ctx, chromedp.AttributeValue(sel, name))
	must(p.t, err)
	return r.Value
}

func TestBrowser(t *testing.T) {
	ctx, console := browser(t)
	p := tab{t: t, ctx: ctx}
	g := newGate(t)
	api := g.image("acme/api:v1", true)
	unsigned := g.image("acme/worker:v1", false)
	// Signed, by a fork's release workflow: the page marks the owner.
	forked, err := g.world.PushImage(context.Background(), "acme/migrate:v2")
	must(t, err)
	must(t, g.world.Sigstore.SignImage(context.Background(), forked, gatetest.SignOptions{Identity: gatetest.IdentityFor("evil-fork/migrate", "refs/tags/v2.1.0")}))
	g.repo.SetRef("refs/heads/main", g.repo.Commit("base", map[string]string{"README.md": "x\n"}))
	failing := g.repo.Commit("worker", map[string]string{
		"apps/api/deploy.yaml":    deployment("api", api),
		"apps/worker/deploy.yaml": deployment("worker", unsigned) + "        - name: migrate\n          image: " + forked.String() + "\n",
	})
	g.repo.SetRef("refs/pull/1/head", failing)
	g.send("pull_request", "b-1", g.payload("opened", 1, failing), secret)
	// A manifest value that is markup must be shown as text.
	hostile := g.repo.Commit("hostile", map[string]string{"apps/evil/deploy.yaml": deployment("evil", "\"<script>alert('gate')</script>\"")})
	g.repo.SetRef("refs/pull/2/head", hostile)
	g.send("pull_request", "b-2", g.payload("opened", 2, hostile), secret)
	g.waitFinal(failing)
	g.waitFinal(hostile)
	passing := g.repo.Commit("fixed", map[string]string{"apps/worker/deploy.yaml": "", "apps/evil/deploy.yaml": ""})
	g.repo.SetRef("refs/pull/3/head", passing)
	g.send("pull_request", "b-3", g.payload("opened", 3, passing), secret)
	g.waitFinal(passing)

	p.open(g.srv.URL+"/", "table.evaluations")
	body := p.text("main")
	for _, want := range []string{"3 evaluations", "✗ Failed", "✓ Passed", "#1 Bump the worker", "acme/gitops", "pull_request"} {
		if !strings.Contains(body, want) {
			t.Errorf("list page lacks %q:\n%s", want, body)
		}
	}
	// Each pull request links to GitHub (the configured one: here the
	// fake's address), and the repository is summed up.
	ghOrigin := strings.TrimSuffix(g.cfg.GitHub.BaseURL, "/")
	if link := p.attr(`table.evaluations tbody tr:has(a[href^="/evaluations/"]) a.github[href$="/pull/1"]`, "href"); link != ghOrigin+"/acme/gitops/pull/1" {
		t.Errorf("pull request link %q, want %s/acme/gitops/pull/1", link, ghOrigin)
	}
	if name := p.text(`a.github[href$="/pull/1"]`); !strings.Contains(name, "on GitHub") || !strings.Contains(name, "pull request #1 of acme/gitops") {
		t.Errorf("the pull request link's name %q", name)
	}
	card := p.text(`section.repos article.repo`)
	for _, want := range []string{"acme/gitops", "33% passed (1 of 3 finished evaluations)", "Last result per branch or pull request", "#1", "#2", "#3",
		"Failing most often", "acme/worker@sha256:", "acme/migrate@sha256:", "in 2 evaluations"} {
		if !strings.Contains(card, want) {
			t.Errorf("repository summary lacks %q:\n%s", want, card)
		}
	}
	// The hostile image value of pull request 2 is among the failing
	// images: text, not markup.
	var scriptsInList int
	scriptsInList, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("main script").length`))
	must(t, err)
	if scriptsInList != 0 {
		t.Errorf("%d scripts in the list's main", scriptsInList)
	}
	screenshot(t, ctx, "evaluations-desktop.png")

	// The filter narrows the list.
	p.do(chromedp.SetValue(`select[name="result"]`, "pass"), chromedp.Submit(`form.filters`), chromedp.WaitVisible(`caption`))
	if c := p.text("caption"); !strings.Contains(c, "1 evaluations") {
		t.Errorf("filter by result: %q", c)
	}

	// The failing evaluation: what failed, why, where.
	p.open(g.srv.URL+"/?result=fail&pr=1", "table.evaluations")
	evalURL := p.attr(`table.evaluations tbody tr a[href^="/evaluations/"]`, "href")
	p.open(g.srv.URL+evalURL, "table.images")
	// Apps whose images all pass are collapsed; the failing one is open.
	if open, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("details.app[open]").length`)); err != nil || open != 1 {
		t.Errorf("%d app sections open, want only the failing one (%v)", open, err)
	}
	screenshot(t, ctx, "evaluation-desktop.png")
	p.do(chromedp.EmulateViewport(390, 844))
	screenshot(t, ctx, "evaluation-phone.png")
	p.do(chromedp.EmulateViewport(1280, 900))
	_, err = chromedp.Run(ctx, chromedp.Evaluate[any](`document.querySelectorAll("details").forEach(function (d) { d.open = true })`))
	must(t, err)
	body = p.text("main")
	// An image pinned by digest is shown with 12 hex characters of it.
	short := func(ref string) string {
		if i := strings.Index(ref, "@sha256:"); i >= 0 {
			return ref[:i+len("@sha256:")+12] + "…"
		}
		return ref
	}
	shown := short(unsigned)
	for _, want := range []string{"✗ Failed", shown, "No signatures found at sha256:", "apps/worker/deploy.yaml:10", "Deployment/worker",
		"spec.template.spec.containers[0].image", "✓ Passed", "acme/app @ refs/tags/v1.0.0", "Rekor #"} {
		if !strings.Contains(body, want) {
			t.Errorf("evaluation page lacks %q", want)
		}
	}
	// The fork's identity: its owner marked, on both sides, with a label
	// for screen readers that is not shown.
	marks, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("dl.identities.compared mark")).map(function (m) {
		var label = m.querySelector(".vh").getBoundingClientRect();
		return m.textContent + (label.width > 1 || label.height > 1 ? " (label shown)" : "") + (getComputedStyle(m).backgroundColor === "rgba(0, 0, 0, 0)" ? " (no background)" : "");
	})`))
	must(t, err)
	if strings.Join(marks, "|") != "differs: acme|differs: evil-fork" {
		t.Errorf("marked parts %q, want the owners, labelled", marks)
	}
	if link := p.attr(`a[href*="apps/worker/deploy.yaml#L10"]`, "href"); !strings.HasSuffix(link, "/blob/"+failing+"/apps/worker/deploy.yaml#L10") {
		t.Errorf("file link %q", link)
	}
	if i, j := strings.Index(body, shown), strings.Index(body, short(api)); i < 0 || j < 0 || i > j {
		t.Error("the failing image must come before the passing one")
	}
	p.do(chromedp.EmulateViewport(390, 844))
	p.open(g.srv.URL+"/", "table.evaluations")
	screenshot(t, ctx, "evaluations-phone.png")
	p.do(chromedp.EmulateViewport(1280, 900))

	// Markup in a manifest is text.
	p.open(g.srv.URL+"/?pr=2", "table.evaluations")
	p.open(g.srv.URL+p.attr(`table.evaluations tbody tr a[href^="/evaluations/"]`, "href"), "main h1")
	body = p.text("main")
	var scripts int
	scripts, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("main script").length`))
	must(t, err)
	if !strings.Contains(body, "<script>alert('gate')</script>") || scripts != 0 {
		t.Errorf("the hostile value is not shown as text (scripts in main: %d):\n%s", scripts, body)
	}

	// Image history and policies.
	p.open(g.srv.URL+"/images?ref="+unsigned, "main table")
	if body = p.text("main"); !strings.Contains(body, "✗ Failed") || !strings.Contains(body, "no signatures found") {
		t.Errorf("image page: %s", body)
	}
	p.open(g.srv.URL+"/policies", "main h2")
	body = p.text("main")
	for _, want := range []string{"acme/gitops", "ClusterPolicy acme-signed", `subject "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"`,
		"DaemonSet", "Fulcio CA", "CN=sigstore", "Rekor"} {
		if !strings.Contains(body, want) {
			t.Errorf("policy page lacks %q", want)
		}
	}
	screenshot(t, ctx, "policies-desktop.png")

	// A pending evaluation refreshes itself until it is done.
	g.world.Registry.SetFaults(gatetest.Faults{Latency: 400 * time.Millisecond})
	slow := g.repo.Commit("slow", map[string]string{"apps/api/deploy.yaml": deployment("api", api) + "# touched\n"})
	g.repo.SetRef("refs/pull/4/head", slow)
	g.send("pull_request", "b-4", g.payload("opened", 4, slow), secret)
	var pendingURL string
	for deadline := time.Now().Add(10 * time.Second); pendingURL == "" && time.Now().Before(deadline); {
		p.open(g.srv.URL+"/?pr=4", "main")
		if strings.Contains(p.text("main"), "#4") {
			pendingURL = p.attr(`table.evaluations tbody tr a[href^="/evaluations/"]`, "href")
		}
	}
	p.open(g.srv.URL+pendingURL, "main h1")
	if h := p.text("main h1"); !strings.Contains(h, "Queued") && !strings.Contains(h, "Running") {
		t.Logf("the evaluation was done before the page opened (%q): the refresh was not observed", h)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	must(t, chromedp.Do(wctx, chromedp.WaitVisible(`h1 .badge-pass`)))

	if ev := console.all(); len(ev) > 0 {
		t.Errorf("console errors or dialogs: %v", ev)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// screenshot saves a full-page PNG under docs/screenshots when
// GITOPS_GATE_SCREENSHOTS is set (they are committed, not rewritten by
// every test run).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must(t, err)
	if len(buf) == 0 {
		t.Errorf("empty screenshot %s", name)
	}
	if os.Getenv("GITOPS_GATE_SCREENSHOTS") == "" {
		return
	}
	dir := filepath.Join("..", "docs", "screenshots")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
		t.Error(err)
	}
	fmt.Println("wrote", filepath.Join(dir, name))
}

// TestBrowserAtAGlance: the demo, at a phone's and a laptop's width. The
// list links every evaluation (the demo has no pull request); a wrongly
// signed image shows its signer and the expected and found identities on
// two labelled lines; a digest never wraps mid-word; every table is a
// stack of cards on the phone; nothing overflows its card.
func TestBrowserAtAGlance(t *testing.T) {
	ctx, console := browser(t)
	p := tab{t: t, ctx: ctx}
	srv, _ := newDemoGate(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := do(t, "GET", srv.URL+"/api/v1/evaluations", "")
		if strings.Contains(body, `"state":"done"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo evaluation did not finish: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	eval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		must(t, err)
		return n
	}
	// overflowing lists the elements wider than their box, or than the page.
	overflowing := func(where string) {
		t.Helper()
		bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(function () {
			var out = [];
			if (document.documentElement.scrollWidth > window.innerWidth + 1) { out.push("page " + document.documentElement.scrollWidth + " > " + window.innerWidth); }
			document.querySelectorAll("main details.app, main section, main article, main li, main table, main tr, main td, main dl, main form").forEach(function (el) {
				if (el.scrollWidth > el.clientWidth + 1) { out.push(el.tagName + "." + el.className + " " + el.scrollWidth + " > " + el.clientWidth + ": " + el.textContent.trim().slice(0, 60)); }
			});
			return out;
		})()`))
		must(t, err)
		if len(bad) > 0 {
			t.Errorf("%s: overflowing: %v", where, bad)
		}
	}
	for _, size := range []struct{ w, h int }{{390, 844}, {1366, 900}} {
		name := fmt.Sprintf("%dpx", size.w)
		p.do(chromedp.EmulateViewport(int64(size.w), int64(size.h)))
		p.open(srv.URL+"/", "table.evaluations")
		link := `table.evaluations tbody tr a[href^="/evaluations/"]`
		if text := strings.TrimSpace(p.text(link)); text == "" {
			t.Errorf("%s: the demo row's link has no text", name)
		}
		// The demo's repository is summed up; the demo has no pull
		// request to link to.
		if card := p.text(`section.repos article.repo`); !strings.Contains(card, "demo/gitops") || !strings.Contains(card, "0% passed (0 of 1 finished evaluation)") || !strings.Contains(card, "demo evaluation") {
			t.Errorf("%s: the demo's summary: %q", name, card)
		}
		if n := eval(`document.querySelectorAll("a.github").length`); n != 0 {
			t.Errorf("%s: %d links to GitHub for the demo", name, n)
		}
		overflowing(name + " list")
		p.open(srv.URL+p.attr(link, "href"), "table.images")
		_, err := chromedp.Run(ctx, chromedp.Evaluate[any](`document.querySelectorAll("details.app").forEach(function (d) { d.open = true })`))
		must(t, err)
		// The wrongly signed image: signer, expected and found.
		row := `tr.status-fail:has(a[href*="migrate"])`
		if s := p.text(row + ` td.signer`); !strings.Contains(s, "evil-fork/migrate @ refs/tags/v2.1.0") || !strings.Contains(s, "not a trusted signer") {
			t.Errorf("%s: signer column %q", name, s)
		}
		reason := p.text(row + ` td.reason`)
		for _, want := range []string{"Signed by another identity", "Expected", "acme/*/.github/workflows/release.yml@refs/tags/*", "Found", "evil-fork/migrate/.github/workflows/release.yml@refs/tags/v2.1.0"} {
			if !strings.Contains(reason, want) {
				t.Errorf("%s: reason lacks %q: %q", name, want, reason)
			}
		}
		// The owner that signed instead is marked; the label is for
		// screen readers.
		if m := strings.Join(strings.Fields(p.text(row+` dl.identities mark`)), " "); m != "differs: acme" {
			t.Errorf("%s: expected identity marked %q", name, m)
		}
		if found := strings.Join(strings.Fields(p.text(row+` dl.identities dd:last-of-type`)), " "); !strings.HasPrefix(found, "differs: evil-fork/migrate/") {
			t.Errorf("%s: found identity %q", name, found)
		}
		if lines := eval(`(function () { var td = document.querySelector('` + row + ` td.reason'); return Math.round(td.querySelector(".reason-body").getBoundingClientRect().height / parseFloat(getComputedStyle(td).lineHeight)); })()`); lines > 8 {
			t.Errorf("%s: the reason takes %d lines", name, lines)
		}
		// Digests are one word; an image pinned by digest shows 12 hex characters.
		if n := eval(`Array.from(document.querySelectorAll("code.digest")).filter(function (c) { return c.getClientRects().length !== 1 || c.getBoundingClientRect().height > 24 }).length`); n != 0 {
			t.Errorf("%s: %d digests wrap", name, n)
		}
		if n := eval(`Array.from(document.querySelectorAll("code.ref")).filter(function (c) { return /[0-9a-f]{64}/.test(c.textContent) }).length`); n != 0 {
			t.Errorf("%s: %d image references show a whole digest", name, n)
		}
		overflowing(name + " evaluation")
		for _, page := range []struct{ url, table string }{{"/policies", "table.rules"}, {"/images?ref=" + p.attr(row+` td.image a`, "title"), "table.history"}} {
			p.open(srv.URL+page.url, page.table)
			display := eval(`getComputedStyle(document.querySelector("` + page.table + ` tr")).display === "block" ? 1 : 0`)
			if (size.w < 600) != (display == 1) {
				t.Errorf("%s %s: rows stacked = %v", name, page.url, display == 1)
			}
			overflowing(name + " " + page.url)
		}
	}
	if ev := console.all(); len(ev) > 0 {
		t.Errorf("console errors or dialogs: %v", ev)
	}
}
