package service

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

// Metrics are the service's Prometheus metrics.
type Metrics struct {
	Evaluations      *prometheus.CounterVec
	Images           *prometheus.CounterVec
	Duration         *prometheus.HistogramVec
	RegistryRequests *prometheus.CounterVec
	RegistryErrors   *prometheus.CounterVec
	Webhooks         *prometheus.CounterVec
	StatusPosts      *prometheus.CounterVec
	CheckRunSteps    *prometheus.CounterVec
	IntakeToFinal    prometheus.Histogram

	// registries are the registry hosts named in configured policies:
	// only they become label values; every other host a repository names
	// is counted as "other", so a hostile repository cannot grow the
	// series without bound.
	mu         sync.Mutex
	registries map[string]bool
}

// otherRegistry labels requests to registries no policy names.
const otherRegistry = "other"

// maxRegistryLabels bounds the registry label values whatever the
// policies say.
const maxRegistryLabels = 200

// knowRegistries adds registry hosts that may be label values.
func (m *Metrics) knowRegistries(hosts []string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.registries == nil {
		m.registries = map[string]bool{}
	}
	for _, h := range hosts {
		if len(m.registries) < maxRegistryLabels {
			m.registries[strings.ToLower(h)] = true
		}
	}
}

// registryLabel is host when a policy names it, else "other".
func (m *Metrics) registryLabel(host string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.registries[strings.ToLower(host)] {
		return host
	}
	return otherRegistry
}

// policyRegistries are the registry hosts a policy set names literally in
// its image references (a glob in the host names none).
func policyRegistries(set *policy.Set) []string {
	var out []string
	if set == nil {
		return nil
	}
	for _, r := range set.Rules() {
		for _, v := range r.Verify {
			for _, ref := range append(append([]string{}, v.ImageReferences...), v.Repository) {
				host, _, ok := strings.Cut(ref, "/")
				if !ok || strings.ContainsAny(host, "*?[") || (!strings.ContainsAny(host, ".:") && host != "localhost") {
					continue
				}
				out = append(out, host)
				if host == "docker.io" {
					out = append(out, "index.docker.io", "registry-1.docker.io")
				}
			}
		}
	}
	return out
}

// NewMetrics registers the metrics, including the queue depth read from st
// at each scrape.
func NewMetrics(reg prometheus.Registerer, st store.Store) *Metrics {
	m := &Metrics{
		Evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gitops_gate_evaluations_total",
			Help: "Evaluations finished, by result (pass, fail, error)."}, []string{"result"}),
		Images: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gitops_gate_images_total",
			Help: "Image verdicts, by status."}, []string{"status"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gitops_gate_evaluation_duration_seconds",
			Help: "Time to fetch, render and verify one evaluation.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}, []string{"result"}),
		RegistryRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gitops_gate_registry_requests_total",
			Help: "HTTP requests to registries, retries included, by registry (those named in policies; \"other\" for the rest)."}, []string{"registry"}),
		RegistryErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gitops_gate_registry_errors_total",
			Help: "Registry requests that failed or answered 429/5xx."}, []string{"registry"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gitops_gate_webhooks_total",
			Help: "Webhook deliveries, by event and outcome (queued, duplicate, ignored, rejected)."}, []string{"event", "outcome"}),
		StatusPosts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gitops_gate_status_posts_total",
			Help: "Commit status posts to GitHub, by outcome (posted, retry, failed)."}, []string{"outcome"}),
		CheckRunSteps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gitops_gate_check_run_steps_total",
			Help: "Check-run steps sent to GitHub (create, start, complete, annotate, cancel), by outcome (posted, already-posted, retry, failed)."},
			[]string{"step", "outcome"}),
		IntakeToFinal: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gitops_gate_intake_to_result_seconds",
			Help: "Time from accepting a webhook or request to its evaluation's result.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}),
	}
	reg.MustRegister(m.Evaluations, m.Images, m.Duration, m.RegistryRequests, m.RegistryErrors, m.Webhooks, m.StatusPosts, m.CheckRunSteps, m.IntakeToFinal)
	reg.MustRegister(&queueCollector{st: st, desc: prometheus.NewDesc("gitops_gate_queue_depth",
		"Jobs queued or running, by kind (evaluate, status, check, comment).", []string{"kind"}, nil)})
	return m
}

type queueCollector struct {
	st   store.Store
	desc *prometheus.Desc
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	depth, err := q.st.QueueDepth(ctx)
	if err != nil {
		return
	}
	for k, n := range depth {
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n), k)
	}
}

// observeRegistry is registry.Options.Observe for the metrics.
func (m *Metrics) observeRegistry(host string, status int, err error) {
	if m == nil {
		return
	}
	label := m.registryLabel(host)
	m.RegistryRequests.WithLabelValues(label).Inc()
	if err != nil || status == 429 || status >= 500 {
		m.RegistryErrors.WithLabelValues(label).Inc()
	}
}
