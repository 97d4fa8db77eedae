package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoExitsLikeCheckFromAnyDirectory: demo runs from a directory that
// is not the source tree (its repository and policy are built in), and
// exits 1 because its verdict is FAIL, as check would.
func TestDemoExitsLikeCheckFromAnyDirectory(t *testing.T) {
	t.Chdir(t.TempDir())
	out, stderr, code := run(t, "demo")
	if code != exitDenied || !strings.Contains(out, "FAIL: 4 images: 2 verified, 2 failed (web-prod, jobs)") {
		t.Errorf("demo outside the source tree: exit %d, want %d\n%s\n%s", code, exitDenied, out, stderr)
	}
	if _, stderr, code := run(t, "demo", "--repo", "elsewhere"); code != exitUsage {
		t.Errorf("--repo without --policy: exit %d %s", code, stderr)
	}
}

// TestSecondServeLeavesTheFirstAlone: a second serve on the same data
// directory (the port in use, a bare port number, or another port) fails
// before it touches any state: the first keeps one finished evaluation,
// and its demo files are not rewritten. Both run outside the source tree.
func TestSecondServeLeavesTheFirstAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildBinary(t)
	work := t.TempDir() // not the source tree: the demo must be built in
	addr := freePort(t)
	first := exec.Command(bin, "serve", "--listen", addr)
	first.Dir = work
	var log bytes.Buffer
	first.Stdout, first.Stderr = &log, &log
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { first.Process.Signal(syscall.SIGTERM); first.Wait() }()
	type list struct {
		Total       int
		Evaluations []struct{ State, Result string }
	}
	get := func() (l list) {
		resp, err := http.Get("http://" + addr + "/api/v1/evaluations")
		if err != nil {
			return l
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(&l)
		return l
	}
	deadline := time.Now().Add(60 * time.Second)
	for l := get(); l.Total != 1 || l.Evaluations[0].State != "done"; l = get() {
		if time.Now().After(deadline) {
			t.Fatalf("the demo evaluation did not finish: %+v\n%s", l, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	demoFile := filepath.Join(work, ".data", "demo", "repo", "jobs", "cleanup.yaml")
	before, err := os.Stat(demoFile)
	if err != nil {
		t.Fatalf("the demo repository was not written out: %v\n%s", err, log.String())
	}
	for _, c := range []struct {
		listen, want string
		code         int
	}{
		{addr, "address already in use", exitOperational},
		{"18099", `listen "18099": want [host]:port`, exitUsage},
		{freePort(t), "is in use by another gitops-gate (pid", exitUsage},
	} {
		second := exec.Command(bin, "serve", "--listen", c.listen)
		second.Dir = work
		out, err := second.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("second serve --listen %s: %v, want exit %d and %q:\n%s", c.listen, err, c.code, c.want, out)
		}
	}
	l := get()
	if l.Total != 1 || l.Evaluations[0].State != "done" || l.Evaluations[0].Result != "fail" {
		t.Errorf("the first process's evaluations changed: %+v", l)
	}
	if after, err := os.Stat(demoFile); err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the demo repository was rewritten (%v)", err)
	}
}
