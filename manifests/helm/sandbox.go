package helm

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"time"

	"github.com/gitops-gate/gitops-gate/manifests/jsonnet"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// Defaults of a Sandbox. The timeout is Argo CD's own for a
// config-management plugin (ARGOCD_EXEC_TIMEOUT is 90 s; 60 s leaves the
// rest of the app time to verify).
const (
	DefaultTimeout     = 60 * time.Second
	DefaultMemoryLimit = 512 << 20
	DefaultMaxOutput   = 64 << 20
)

// Sandbox runs Helm's template engine in child processes. Go templates
// cannot be interrupted: a chart whose templates loop for ever would hold a
// CPU of the gate for good, and one that prints without end would grow its
// heap until the whole service died. A child can be killed at a deadline and
// stops itself at a memory limit; either way only that app fails, with the
// reason named. Children are kept between charts (starting one costs more
// than rendering a chart) and replaced when one is killed or dies.
//
// A Sandbox is safe for concurrent use; Close ends its idle children.
type Sandbox struct {
	// Command starts a process that runs RunChild on its stdin and
	// stdout (for gitops-gate: its own binary with the hidden helm-sandbox
	// command).
	Command []string
	// Env is added to the child's environment.
	Env []string
	// Timeout bounds one chart's rendering (default DefaultTimeout).
	Timeout time.Duration
	// MemoryLimit is the heap, in bytes, at which a child stops (default
	// DefaultMemoryLimit).
	MemoryLimit int64
	// MaxOutput bounds one chart's rendered manifests, in bytes (default
	// DefaultMaxOutput).
	MaxOutput int64

	mu   sync.Mutex
	idle []*helmChild
}

type helmLimits struct {
	timeout           time.Duration
	memory, maxOutput int64
}

func (s *Sandbox) limits() helmLimits {
	l := helmLimits{s.Timeout, s.MemoryLimit, s.MaxOutput}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	if l.memory <= 0 {
		l.memory = DefaultMemoryLimit
	}
	if l.maxOutput <= 0 {
		l.maxOutput = DefaultMaxOutput
	}
	return l
}

// helmRequest is what the parent sends: the child loads the chart itself
// (the parent checked it first: symlinks confined, sizes bounded) and
// renders it with the user values the parent composed.
type helmRequest struct {
	// Jsonnet, when set, asks for a Jsonnet evaluation instead of a chart:
	// a Jsonnet program can loop or allocate without end just as a template
	// can, so it runs under the same limits.
	Jsonnet  *jsonnet.Job
	ChartDir string
	// Dependencies are directories of fetched dependency charts, added as
	// if they were in the chart's charts/.
	Dependencies []string
	Values       map[string]any
	Release      chartutil.ReleaseOptions
	Cluster      Cluster
	MemoryLimit  int64
	MaxOutput    int64
}

type helmResponse struct {
	Files   map[string]string
	Jsonnet []jsonnet.Output
	Err     string
	// OverOutput says Err is about MaxOutput.
	OverOutput bool
}

func init() {
	// Values decoded from YAML and --set style parameters hold only these
	// shapes (plus gob's built-in basic types).
	gob.Register(map[string]any{})
	gob.Register([]any{})
	gob.Register(time.Time{})
}

// Exit codes of the child, read by the parent.
const (
	helmChildExitMemory = 86
	helmChildExitBroken = 87
)

// ErrLimit marks a chart stopped by the sandbox (time, memory or
// output); errors.Is finds it in an app's render error.
var ErrLimit = errors.New("Helm rendering limit exceeded")

// helmChild is one running child process.
type helmChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	enc    *gob.Encoder
	dec    *gob.Decoder
	stderr *cappedBuffer
}

func (s *Sandbox) start() (*helmChild, error) {
	if len(s.Command) == 0 {
		return nil, errors.New("Helm sandbox: no command configured")
	}
	cmd := exec.Command(s.Command[0], s.Command[1:]...)
	cmd.Env = append(os.Environ(), s.Env...)
	c := &helmChild{cmd: cmd, stderr: &cappedBuffer{max: 64 << 10}}
	cmd.Stderr = c.stderr
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("Helm sandbox: starting %s: %w", s.Command[0], err)
	}
	c.enc, c.dec = gob.NewEncoder(c.stdin), gob.NewDecoder(stdout)
	return c, nil
}

// stop ends the child and returns how it exited. The caller must have
// finished reading its stdout.
func (c *helmChild) stop() error {
	c.cmd.Process.Kill()
	return c.cmd.Wait()
}

// get returns an idle child, or a new one; reused says which.
func (s *Sandbox) get() (c *helmChild, reused bool, err error) {
	s.mu.Lock()
	if n := len(s.idle); n > 0 {
		c := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return c, true, nil
	}
	s.mu.Unlock()
	c, err = s.start()
	return c, false, err
}

func (s *Sandbox) put(c *helmChild) {
	s.mu.Lock()
	if len(s.idle) < runtime.GOMAXPROCS(0) {
		s.idle = append(s.idle, c)
		c = nil
	}
	s.mu.Unlock()
	if c != nil {
		c.stdin.Close() // the child exits at the end of its input
		c.cmd.Wait()
	}
}

// Close ends the idle children.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		c.stdin.Close()
		c.cmd.Wait()
	}
	return nil
}

// Render runs engine.Render for the chart in dir in a child process.
func (s *Sandbox) Render(ctx context.Context, dir string, deps []string, vals map[string]any, rel chartutil.ReleaseOptions, cluster Cluster) (map[string]string, error) {
	l := s.limits()
	resp, err := s.run(ctx, helmRequest{ChartDir: dir, Dependencies: deps, Values: vals, Release: rel, Cluster: cluster, MemoryLimit: l.memory, MaxOutput: l.maxOutput}, "templates")
	return resp.Files, err
}

// EvalJsonnet evaluates a Jsonnet job in a child process, under the same
// limits as a chart.
func (s *Sandbox) EvalJsonnet(ctx context.Context, job jsonnet.Job) ([]jsonnet.Output, error) {
	l := s.limits()
	resp, err := s.run(ctx, helmRequest{Jsonnet: &job, MemoryLimit: l.memory, MaxOutput: l.maxOutput}, "Jsonnet")
	return resp.Jsonnet, err
}

// run sends one request to a child and waits for the answer within the
// limits; what names the work in errors ("templates", "Jsonnet").
func (s *Sandbox) run(ctx context.Context, req helmRequest, what string) (helmResponse, error) {
	l := s.limits()
	for {
		c, reused, err := s.get()
		if err != nil {
			return helmResponse{}, err
		}
		var resp helmResponse
		var sent bool
		done := make(chan error, 1)
		go func() {
			err := c.enc.Encode(req)
			sent = err == nil
			if err == nil {
				err = c.dec.Decode(&resp)
			}
			done <- err
		}()
		timer := time.NewTimer(l.timeout)
		select {
		case err = <-done:
		case <-ctx.Done(): // the evaluation ended, not the chart's deadline
			c.stop()
			<-done
			timer.Stop()
			return helmResponse{}, ctx.Err()
		case <-timer.C:
			c.stop()
			<-done
			return helmResponse{}, fmt.Errorf("%s still rendering after %v (%s that loops?); stopped: %w", what, l.timeout, loopHint[what], ErrLimit)
		}
		timer.Stop()
		if err == nil {
			s.put(c)
			switch {
			case resp.OverOutput:
				return helmResponse{}, fmt.Errorf("%s; stopped: %w", resp.Err, ErrLimit)
			case resp.Err != "":
				return helmResponse{}, errors.New(resp.Err)
			}
			return resp, nil
		}
		// The conversation is broken either way; the child goes.
		werr := c.stop()
		switch {
		case strings.Contains(err.Error(), "type not registered"):
			return helmResponse{}, fmt.Errorf("Helm sandbox: values cannot be passed to the renderer: %w", err)
		case reused && !sent:
			// An idle child that died while waiting (killed from outside)
			// never saw this chart: start a new one.
			continue
		}
		var ee *exec.ExitError
		if errors.As(werr, &ee) && ee.ExitCode() == helmChildExitMemory || strings.Contains(c.stderr.String(), "out of memory") {
			return helmResponse{}, fmt.Errorf("%s used more than %d MiB of memory; stopped: %w", what, l.memory>>20, ErrLimit)
		}
		return helmResponse{}, fmt.Errorf("%s renderer failed (%v, %v): %s", what, err, werr, lastLine(c.stderr.String()))
	}
}

var loopHint = map[string]string{"templates": "a template", "Jsonnet": "a Jsonnet program"}

// RunChild is the child side of a Sandbox: it renders each request
// read from in and writes the answer to out, until in ends, and returns the
// exit code. A watchdog ends the process (os.Exit) when the heap passes the
// requested limit, since a template goroutine cannot be stopped any other
// way.
func RunChild(in io.Reader, out io.Writer) int {
	dec, enc := gob.NewDecoder(in), gob.NewEncoder(out)
	watching := false
	for {
		var req helmRequest
		if err := dec.Decode(&req); errors.Is(err, io.EOF) {
			return 0
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "helm sandbox: reading request:", err)
			return helmChildExitBroken
		}
		if req.MemoryLimit > 0 && !watching {
			// The collector works to stay under three quarters of the
			// limit, so that only live data reaches it.
			debug.SetMemoryLimit(req.MemoryLimit / 4 * 3)
			go watchHeap(uint64(req.MemoryLimit))
			watching = true
		}
		var resp helmResponse
		var err error
		var n int64
		if req.Jsonnet != nil {
			resp.Jsonnet, err = jsonnet.Evaluate(*req.Jsonnet)
			for _, o := range resp.Jsonnet {
				n += int64(len(o.JSON))
			}
		} else {
			resp.Files, err = helmTemplate(req.ChartDir, req.Dependencies, req.Values, req.Release, req.Cluster)
			n = outputSize(resp.Files)
		}
		if err != nil {
			resp = helmResponse{Err: err.Error()}
		} else if req.MaxOutput > 0 && n > req.MaxOutput {
			resp = helmResponse{Err: fmt.Sprintf("rendered output of %d bytes is larger than %d", n, req.MaxOutput), OverOutput: true}
		}
		if err := enc.Encode(resp); err != nil {
			fmt.Fprintln(os.Stderr, "helm sandbox: writing answer:", err)
			return helmChildExitBroken
		}
	}
}

// watchHeap exits the process once the heap passes limit. The runtime
// counts an allocation as soon as it is made, so a template that asks for a
// huge list at once is caught before it fills it.
func watchHeap(limit uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > limit {
			fmt.Fprintf(os.Stderr, "helm sandbox: heap of %d MiB passed the limit of %d MiB\n", sample[0].Value.Uint64()>>20, limit>>20)
			os.Exit(helmChildExitMemory)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// helmTemplate is the child's side of TemplateChart: it loads the chart
// itself (the parent checked its files first).
func helmTemplate(dir string, deps []string, vals map[string]any, rel chartutil.ReleaseOptions, cluster Cluster) (map[string]string, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	if err := AddDependencies(chrt, deps); err != nil {
		return nil, err
	}
	return TemplateChart(chrt, vals, rel, cluster)
}

func outputSize(files map[string]string) int64 {
	var n int64
	for _, f := range files {
		n += int64(len(f))
	}
	return n
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "no message"
	}
	return s
}

// cappedBuffer keeps the first max bytes written to it; it is written by
// exec's copying goroutine and read after the child ended.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int64
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - int64(b.buf.Len()); room > 0 {
		b.buf.Write(p[:min(int64(len(p)), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Idle returns the processes of the children kept for the next chart, so
// that tests outside this package can watch the pool.
func (s *Sandbox) Idle() []*exec.Cmd {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*exec.Cmd, 0, len(s.idle))
	for _, c := range s.idle {
		out = append(out, c.cmd)
	}
	return out
}
