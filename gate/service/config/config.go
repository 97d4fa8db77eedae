package config

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gitops-gate/gitops-gate/gate/chartsrc"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// Config is the service's configuration file (docs/configuration.md).
// Secrets may come from the environment instead: GITOPS_GATE_WEBHOOK_SECRET,
// GITOPS_GATE_GITHUB_TOKEN, GITOPS_GATE_GITHUB_PRIVATE_KEY (PEM),
// GITOPS_GATE_API_TOKENS (comma-separated) and GITOPS_GATE_STORE_DSN.
type Config struct {
	Listen      string `yaml:"listen"`
	ExternalURL string `yaml:"externalURL"`
	DataDir     string `yaml:"dataDir"`
	Store       struct {
		// Driver is sqlite (default; DSN its file, default
		// dataDir/gitops-gate.db) or postgres (DSN a libpq URL or key=value
		// string, or GITOPS_GATE_STORE_DSN; replicas share it).
		Driver string `yaml:"driver"`
		DSN    string `yaml:"dsn"`
	} `yaml:"store"`
	GitHub struct {
		BaseURL        string `yaml:"baseURL"`
		AppID          int64  `yaml:"appID"`
		PrivateKeyFile string `yaml:"privateKeyFile"`
		Token          string `yaml:"token"`
		WebhookSecret  string `yaml:"webhookSecret"`
		StatusContext  string `yaml:"statusContext"`
		// PerAppStatuses posts one status per app (context/app) besides
		// the overall one.
		PerAppStatuses bool `yaml:"perAppStatuses"`
		// ProposePins: "comment" keeps one comment on each pull request
		// whose images all passed but are not all pinned, with the diff
		// that pins them (docs/pinning.md); "" or "off" does not.
		ProposePins string `yaml:"proposePins"`
	} `yaml:"github"`
	// ArgoCD describes the Argo CD the gate stands in front of.
	ArgoCD struct {
		// Clusters are the clusters registered in Argo CD (name, server,
		// labels): what ApplicationSet clusters generators expand to,
		// besides Argo CD's in-cluster default.
		Clusters []manifests.Cluster `yaml:"clusters"`
	} `yaml:"argocd"`
	// Defaults apply to every repository that does not set its own.
	Defaults RepoSettings `yaml:"defaults"`
	// Repos are the repositories the gate watches; webhooks of any other
	// repository are recorded and ignored.
	Repos     []RepoSettings `yaml:"repos"`
	Workers   int            `yaml:"workers"`
	Lease     time.Duration  `yaml:"leaseTimeout"`
	Retention time.Duration  `yaml:"retention"`
	// EvaluationTimeout bounds one evaluation (fetch, render, verify).
	EvaluationTimeout time.Duration `yaml:"evaluationTimeout"`
	APITokens         []string      `yaml:"apiTokens"`
	// UI protects the pages (optional): basic auth, or a header set by a
	// trusted authenticating proxy. Password: GITOPS_GATE_UI_PASSWORD.
	UI struct {
		BasicAuth struct {
			Username string `yaml:"username"`
			Password string `yaml:"password"`
		} `yaml:"basicAuth"`
		// TrustedUserHeader is believed only on connections from
		// TrustedProxies (IP addresses or CIDR ranges), and never instead
		// of a configured basic auth.
		TrustedUserHeader string   `yaml:"trustedUserHeader"`
		TrustedProxies    []string `yaml:"trustedProxies"`
	} `yaml:"ui"`
	Registry struct {
		Timeout time.Duration `yaml:"timeout"`
		Retries int           `yaml:"retries"`
		// Concurrency bounds requests in flight to one registry (default 64).
		Concurrency int `yaml:"concurrency"`
	} `yaml:"registry"`
	// Registries says which registries a repository under review may make
	// the gate connect to.
	Registries struct {
		// Deny lists addresses (IPs or CIDR ranges) the gate never
		// connects to for a registry, checked on the address dialled (after
		// DNS). Unset: loopback and link-local addresses (the gate's own
		// host, cloud metadata); [] denies nothing.
		Deny *[]string `yaml:"deny"`
	} `yaml:"registries"`
	// Server bounds the HTTP surface, before anyone is authenticated.
	Server Server `yaml:"server"`
	// Limits bound what one hostile repository can cost the service.
	Limits Limits `yaml:"limits"`
	// Cluster is what Argo CD renders for (docs/apps.md): the destination
	// cluster's Kubernetes version and extra API versions, as Helm charts
	// see them unless an Application sets its own (default: a current
	// release), and the namespace Argo CD runs in (default argocd).
	Cluster struct {
		KubeVersion     string   `yaml:"kubeVersion"`
		APIVersions     []string `yaml:"apiVersions"`
		ArgoCDNamespace string   `yaml:"argocdNamespace"`
		// KyvernoVersion is the cluster's Kyverno: below 1.19 the
		// verdicts of ImageValidatingPolicies warn where it decides
		// otherwise (docs/policies.md).
		KyvernoVersion string `yaml:"kyvernoVersion"`
		// NamespaceLabels are the cluster's namespaces and their labels,
		// for the namespaceSelector of ImageValidatingPolicies; a selector
		// on a namespace not listed is an error verdict.
		NamespaceLabels map[string]map[string]string `yaml:"namespaceLabels"`
	} `yaml:"cluster"`
	// Sources.Allow lists the repositories other than the one under review
	// that Applications (and chart dependencies) may take sources from; any
	// other source is an app error. Never read from the repository under
	// review. An entry is a URL, or {url, mirror, username, password}: the
	// mirror a Git, Helm or OCI repository is fetched from instead, and the
	// credentials sent to it (to the URL's host without a mirror).
	Sources struct {
		Allow []chartsrc.Allowed `yaml:"allow"`
	} `yaml:"sources"`
	Log struct {
		Format string `yaml:"format"` // json or text (default: text on a terminal)
		Level  string `yaml:"level"`
	} `yaml:"log"`
	// Demo evaluates the demo repository against an in-process registry
	// and Sigstore; it is on when no GitHub credentials are configured and
	// no repository is watched, unless set to false.
	Demo *bool `yaml:"demo"`
	// Incremental (default true) renders, for each evaluation of a whole
	// repository, only the apps whose inputs changed since an earlier
	// evaluation, and carries the others over (docs/architecture.md);
	// false renders every app every time.
	Incremental *bool `yaml:"incremental"`

	externalDerived bool
	// uiPasswordFromEnv says the password came from GITOPS_GATE_UI_PASSWORD.
	uiPasswordFromEnv bool
	registryDeny      []netip.Prefix
	trustedProxies    []netip.Prefix
}

// Limits are sizes in Kubernetes quantity syntax (512Mi, 1Gi) and
// durations.
type Limits struct {
	// Memory is the process's soft memory ceiling (as GOMEMLIMIT, which
	// overrides it); default 1Gi. Helm children are bounded on their own.
	Memory string `yaml:"memory"`
	// MaxFileSize is the largest file of a checkout that is read (default
	// 4Mi); a larger one fails its app.
	MaxFileSize string `yaml:"maxFileSize"`
	// HelmTimeout and HelmMemory bound one chart's rendering, done in a
	// child process (defaults 60s and 512Mi).
	HelmTimeout time.Duration `yaml:"helmTimeout"`
	HelmMemory  string        `yaml:"helmMemory"`
	// APIQueuedPerToken bounds the evaluations one API token may have
	// queued or running (default 20); past it the API answers 429.
	APIQueuedPerToken int `yaml:"apiQueuedPerToken"`

	memory, maxFileSize, helmMemory int64
}

// Server bounds the HTTP server. Timeouts and sizes in Go duration and
// Kubernetes quantity syntax.
type Server struct {
	// ReadTimeout bounds reading one request, body included (default
	// 60s); WriteTimeout bounds the whole exchange and must outlast the
	// longest ?wait= (default 11m); IdleTimeout bounds a kept-alive
	// connection between requests (default 2m).
	ReadTimeout  time.Duration `yaml:"readTimeout"`
	WriteTimeout time.Duration `yaml:"writeTimeout"`
	IdleTimeout  time.Duration `yaml:"idleTimeout"`
	// MaxConnections caps open connections (default 512); more wait to
	// be accepted.
	MaxConnections int `yaml:"maxConnections"`
	// WebhookInFlight bounds the webhook body bytes held in memory before
	// their signature is checked, across all requests (default 64Mi);
	// WebhookMaxBody bounds one (default and at most 25Mi, what GitHub
	// sends).
	WebhookInFlight string `yaml:"webhookInFlight"`
	WebhookMaxBody  string `yaml:"webhookMaxBody"`

	webhookInFlight, webhookMaxBody int64
}

// MaxWait is the longest ?wait= the API accepts: the server's write
// timeout must outlast it.
const MaxWait = 10 * time.Minute

// WebhookInFlightBytes and WebhookMaxBodyBytes are the parsed sizes.
func (s Server) WebhookInFlightBytes() int64 { return s.webhookInFlight }
func (s Server) WebhookMaxBodyBytes() int64  { return s.webhookMaxBody }

func (s *Server) parse() error {
	if s.ReadTimeout < 0 || s.WriteTimeout < 0 || s.IdleTimeout < 0 || s.MaxConnections < 0 {
		return errors.New("config: server: timeouts and maxConnections must be positive")
	}
	if s.ReadTimeout == 0 {
		s.ReadTimeout = 60 * time.Second
	}
	if s.WriteTimeout == 0 {
		s.WriteTimeout = MaxWait + time.Minute
	}
	if s.WriteTimeout <= MaxWait {
		return fmt.Errorf("config: server.writeTimeout %v: must be longer than the longest ?wait= (%v)", s.WriteTimeout, MaxWait)
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = 2 * time.Minute
	}
	if s.MaxConnections == 0 {
		s.MaxConnections = 512
	}
	for _, q := range []struct {
		field string
		in    string
		def   int64
		out   *int64
	}{
		{"server.webhookInFlight", s.WebhookInFlight, 64 << 20, &s.webhookInFlight},
		{"server.webhookMaxBody", s.WebhookMaxBody, 25 << 20, &s.webhookMaxBody},
	} {
		*q.out = q.def
		if q.in == "" {
			continue
		}
		v, err := resource.ParseQuantity(q.in)
		if err != nil || v.Value() <= 0 {
			return fmt.Errorf("config: %s %q: want a positive size such as 25Mi", q.field, q.in)
		}
		*q.out = v.Value()
	}
	if s.webhookMaxBody > 25<<20 {
		return fmt.Errorf("config: server.webhookMaxBody %s: GitHub sends at most 25Mi", s.WebhookMaxBody)
	}
	if s.webhookInFlight < s.webhookMaxBody {
		return fmt.Errorf("config: server.webhookInFlight %s: must hold at least one payload of webhookMaxBody", s.WebhookInFlight)
	}
	return nil
}

// DefaultRegistryDeny is what registries.deny is when unset: loopback and
// link-local addresses, where the gate's host and cloud metadata answer.
var DefaultRegistryDeny = []string{"127.0.0.0/8", "::1/128", "169.254.0.0/16", "fe80::/10", "0.0.0.0/8", "::/128"}

// RegistryDeny is the effective deny list.
func (c *Config) RegistryDeny() []netip.Prefix { return c.registryDeny }

// TrustedProxies are the parsed ui.trustedProxies.
func (c *Config) TrustedProxies() []netip.Prefix { return c.trustedProxies }

// ParsePrefixes reads IP addresses and CIDR ranges; field names the list
// in errors.
func ParsePrefixes(field string, in []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range in {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("config: %s[%d] %q: want an IP address or a CIDR range", field, i, s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// MemoryBytes is the configured memory ceiling in bytes.
func (l Limits) MemoryBytes() int64 { return l.memory }

// MaxFileSizeBytes is the largest file of a checkout that is read; a
// checkout need not write the content of larger ones.
func (l Limits) MaxFileSizeBytes() int64 { return l.maxFileSize }

// HelmMemoryBytes bounds the memory of one chart's rendering child.
func (l Limits) HelmMemoryBytes() int64 { return l.helmMemory }

func (l *Limits) parse() error {
	for _, q := range []struct {
		field string
		in    string
		def   int64
		out   *int64
	}{
		{"limits.memory", l.Memory, 1 << 30, &l.memory},
		{"limits.maxFileSize", l.MaxFileSize, manifests.DefaultMaxFileSize, &l.maxFileSize},
		{"limits.helmMemory", l.HelmMemory, manifests.DefaultHelmMemoryLimit, &l.helmMemory},
	} {
		*q.out = q.def
		if q.in == "" {
			continue
		}
		v, err := resource.ParseQuantity(q.in)
		if err != nil || v.Value() <= 0 {
			return fmt.Errorf("config: %s %q: want a positive size such as 512Mi or 2Gi", q.field, q.in)
		}
		*q.out = v.Value()
	}
	if l.HelmTimeout < 0 {
		return fmt.Errorf("config: limits.helmTimeout %v: want a positive duration", l.HelmTimeout)
	}
	if l.HelmTimeout == 0 {
		l.HelmTimeout = manifests.DefaultHelmTimeout
	}
	return nil
}

// SetListen changes the listen address, and the external URL with it when
// the URL was derived from the address.
func (c *Config) SetListen(addr string) {
	c.Listen = addr
	if c.externalDerived {
		c.ExternalURL = ""
		c.defaults()
	}
}

// RepoSettings say how one repository is judged. Trust comes from here,
// never from the repository: it may only say where its apps are.
type RepoSettings struct {
	Name     string   `yaml:"name"`     // owner/name
	CloneURL string   `yaml:"cloneURL"` // default: the webhook's
	Policies []string `yaml:"policies"`
	// PolicyIgnore are globs of files in the policy directories that are
	// not policies (e.g. kustomization.yaml); any other YAML file there
	// must hold only policies.
	PolicyIgnore []string `yaml:"policyIgnore"`
	TrustedRoot  string   `yaml:"trustedRoot"`
	TUF          bool     `yaml:"tuf"`
	TUFCache     string   `yaml:"tufCache"`
	Identities   []string `yaml:"identities"`
	Keys         []string `yaml:"keys"`
	RequireMatch *bool    `yaml:"requireMatch"`
	// StrictUnknownImages fails image fields of resource kinds the gate has
	// no extractor for, instead of warning about them.
	StrictUnknownImages *bool `yaml:"strictUnknownImages"`
	// Branches whose pushes are evaluated (default: none).
	Branches []string `yaml:"branches"`
	// CheckRuns reports webhook evaluations as GitHub check runs (with
	// annotations, re-run and a "Propose pins" button) instead of commit
	// statuses; default true as a GitHub App, and a token cannot (false).
	CheckRuns *bool `yaml:"checkRuns"`
	// Attestations: "github" also reads GitHub artifact attestations
	// (GitHubAttestations says where, and which checks they must pass).
	Attestations       string                    `yaml:"attestations"`
	GitHubAttestations GitHubAttestationSettings `yaml:"githubAttestations"`
}

// Load reads a configuration file ("" for defaults) strictly and
// applies environment overrides and defaults.
func Load(path string) (*Config, error) {
	var c Config
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		// Unknown keys and wrong types, named by their config key.
		if err := checkKeys(path, &doc, reflect.TypeOf(c)); err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if v := os.Getenv("GITOPS_GATE_WEBHOOK_SECRET"); v != "" {
		c.GitHub.WebhookSecret = v
	}
	if v := os.Getenv("GITOPS_GATE_GITHUB_TOKEN"); v != "" {
		c.GitHub.Token = v
	}
	if v := os.Getenv("GITOPS_GATE_UI_PASSWORD"); v != "" {
		c.UI.BasicAuth.Password, c.uiPasswordFromEnv = v, true
	}
	if v := os.Getenv("GITOPS_GATE_STORE_DSN"); v != "" {
		c.Store.DSN = v
	}
	if v := os.Getenv("GITOPS_GATE_API_TOKENS"); v != "" {
		c.APITokens = append(c.APITokens, strings.Split(v, ",")...)
	}
	c.defaults()
	return &c, c.validate()
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = ":8080"
	}
	if c.DataDir == "" {
		c.DataDir = ".data"
	}
	if c.ExternalURL == "" {
		c.externalDerived = true
		port := c.Listen
		if i := strings.LastIndexByte(port, ':'); i >= 0 {
			port = port[i+1:]
		}
		c.ExternalURL = "http://localhost:" + port
	}
	c.ExternalURL = strings.TrimRight(c.ExternalURL, "/")
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	if c.GitHub.StatusContext == "" {
		c.GitHub.StatusContext = "gitops-gate"
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.Retention <= 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.EvaluationTimeout <= 0 {
		c.EvaluationTimeout = 10 * time.Minute
	}
	if c.Limits.APIQueuedPerToken <= 0 {
		c.Limits.APIQueuedPerToken = 20
	}
}

func (c *Config) validate() error {
	if err := c.Limits.parse(); err != nil {
		return err
	}
	if err := c.Server.parse(); err != nil {
		return err
	}
	if err := c.validateUI(); err != nil {
		return err
	}
	if c.Registry.Concurrency < 0 || c.Registry.Concurrency > registry.MaxPerRegistry {
		return fmt.Errorf("config: registry.concurrency: %d, want 1 to %d (0 or unset: 64)", c.Registry.Concurrency, registry.MaxPerRegistry)
	}
	deny := DefaultRegistryDeny
	if c.Registries.Deny != nil {
		deny = *c.Registries.Deny
	}
	var err error
	if c.registryDeny, err = ParsePrefixes("registries.deny", deny); err != nil {
		return err
	}
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if c.Store.DSN == "" {
			return fmt.Errorf("config: store.dsn: driver postgres needs a DSN (store.dsn or GITOPS_GATE_STORE_DSN)")
		}
	default:
		return fmt.Errorf("config: store.driver %q: want sqlite or postgres", c.Store.Driver)
	}
	for i, cl := range c.ArgoCD.Clusters {
		if cl.Name == "" || cl.Server == "" {
			return fmt.Errorf("config: argocd.clusters[%d]: needs a name and a server", i)
		}
	}
	switch c.GitHub.ProposePins {
	case "", "off", "comment":
	default:
		return fmt.Errorf("config: github.proposePins %q: want comment or off", c.GitHub.ProposePins)
	}
	if err := c.checkSecrets(); err != nil {
		return err
	}
	if err := c.checkAppKey(); err != nil {
		return err
	}
	if err := validateAttestations("defaults", c.Defaults); err != nil {
		return err
	}
	if c.GitHub.AppID == 0 {
		// Only a GitHub App can create check runs: a token would be asked
		// for them, fail every time, and report nothing.
		if c.Defaults.CheckRuns != nil && *c.Defaults.CheckRuns {
			return fmt.Errorf("config: defaults.checkRuns: check runs need a GitHub App (github.appID); a token posts commit statuses")
		}
		for i, r := range c.Repos {
			if r.CheckRuns != nil && *r.CheckRuns {
				return fmt.Errorf("config: repos[%d].checkRuns (%s): check runs need a GitHub App (github.appID); a token posts commit statuses", i, r.Name)
			}
		}
	}
	seen := map[string]bool{}
	for i, r := range c.Repos {
		if err := validateAttestations(fmt.Sprintf("repos[%d]", i), r); err != nil {
			return err
		}
		if !strings.Contains(r.Name, "/") {
			return fmt.Errorf("config: repos[%d].name %q: want owner/name", i, r.Name)
		}
		if seen[strings.ToLower(r.Name)] {
			return fmt.Errorf("config: repos[%d]: %s is listed twice", i, r.Name)
		}
		seen[strings.ToLower(r.Name)] = true
	}
	return nil
}

// validateUI refuses access control that is half configured: a basic
// auth with one half missing would leave the pages open (or locked to
// nobody), and a user header believed from anyone is no authentication.
func (c *Config) validateUI() error {
	ba := c.UI.BasicAuth
	pw := "ui.basicAuth.password"
	if c.uiPasswordFromEnv {
		pw = "GITOPS_GATE_UI_PASSWORD"
	}
	switch {
	case ba.Username != "" && ba.Password == "":
		return fmt.Errorf("config: ui.basicAuth: username %q is set but the password is missing (ui.basicAuth.password or GITOPS_GATE_UI_PASSWORD)", ba.Username)
	case ba.Username == "" && ba.Password != "":
		return fmt.Errorf("config: ui.basicAuth: a password is set (%s) but the username is missing (ui.basicAuth.username)", pw)
	}
	var err error
	if c.trustedProxies, err = ParsePrefixes("ui.trustedProxies", c.UI.TrustedProxies); err != nil {
		return err
	}
	if c.UI.TrustedUserHeader != "" && len(c.trustedProxies) == 0 {
		return fmt.Errorf("config: ui.trustedUserHeader %q: set ui.trustedProxies, the addresses of the proxy that sets it (any client can send a header)", c.UI.TrustedUserHeader)
	}
	return nil
}

// checkAppKey refuses a GitHub App without its private key, and a key
// without its App: either used to start a service that never posts a
// status, with only a warning in its log.
func (c *Config) checkAppKey() error {
	const env = "GITOPS_GATE_GITHUB_PRIVATE_KEY"
	key, src := []byte(os.Getenv(env)), env
	if len(key) == 0 && c.GitHub.PrivateKeyFile != "" {
		src = "github.privateKeyFile " + c.GitHub.PrivateKeyFile
		var err error
		if key, err = os.ReadFile(c.GitHub.PrivateKeyFile); err != nil {
			return fmt.Errorf("config: github.privateKeyFile: %w", err)
		}
	}
	switch {
	case c.GitHub.AppID == 0 && c.GitHub.PrivateKeyFile != "":
		return fmt.Errorf("config: github.privateKeyFile is set but github.appID is not: the private key belongs to a GitHub App")
	case c.GitHub.AppID == 0:
		return nil
	case src == env && len(key) == 0:
		return fmt.Errorf("config: github.appID %d: the App's private key is missing: set github.privateKeyFile or %s", c.GitHub.AppID, env)
	case len(bytes.TrimSpace(key)) == 0:
		return fmt.Errorf("config: %s is empty: github.appID %d needs the App's private key (PEM)", src, c.GitHub.AppID)
	}
	if block, _ := pem.Decode(key); block == nil {
		return fmt.Errorf("config: %s is not a PEM private key: github.appID %d needs the App's private key", src, c.GitHub.AppID)
	}
	return nil
}

// checkSecrets refuses secrets copied from an example instead of
// generated. A placeholder is a secret everyone knows: a webhook secret of
// "${...}" lets anyone sign webhooks, an API token of "changeme" opens the
// API. The value is never repeated in the error.
func (c *Config) checkSecrets() error {
	check := func(key, env, v string) error {
		if why := placeholder(v); why != "" {
			return fmt.Errorf("config: %s (or %s) looks like a placeholder (%s), not a secret: this file is not expanded; give a generated value", key, env, why)
		}
		return nil
	}
	errs := []error{
		check("github.webhookSecret", "GITOPS_GATE_WEBHOOK_SECRET", c.GitHub.WebhookSecret),
		check("github.token", "GITOPS_GATE_GITHUB_TOKEN", c.GitHub.Token),
		check("ui.basicAuth.password", "GITOPS_GATE_UI_PASSWORD", c.UI.BasicAuth.Password),
	}
	for i, t := range c.APITokens {
		errs = append(errs, check(fmt.Sprintf("apiTokens[%d]", i), "GITOPS_GATE_API_TOKENS", t))
	}
	return errors.Join(errs...)
}

var (
	envReference = regexp.MustCompile(`^\$[A-Za-z_][A-Za-z0-9_]*$`)
	placeholders = map[string]bool{"changeme": true, "changeit": true, "changethis": true, "replaceme": true, "secret": true,
		"password": true, "token": true, "todo": true, "xxx": true, "example": true, "mysecret": true, "yoursecret": true}
)

// placeholder says why v looks like a placeholder, or "" when it does not.
func placeholder(v string) string {
	s := strings.TrimSpace(v)
	switch {
	case s == "":
		return ""
	case strings.Contains(s, "${") || envReference.MatchString(s):
		return "a variable reference, which is not expanded"
	case strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">"):
		return "<...>"
	}
	var norm strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			norm.WriteRune(r)
		}
	}
	if n := norm.String(); placeholders[n] || strings.HasPrefix(n, "changeme") || strings.HasPrefix(n, "replaceme") || strings.Trim(n, "x") == "" {
		return "an example value such as changeme"
	}
	return ""
}

// DemoMode reports whether the service runs the demo.
func (c *Config) DemoMode() bool {
	if c.Demo != nil {
		return *c.Demo
	}
	return c.GitHub.Token == "" && c.GitHub.AppID == 0 && len(c.Repos) == 0
}

// Settings returns the effective settings of a repository (its own merged
// over the defaults), and whether the gate watches it.
func (c *Config) Settings(repo string) (RepoSettings, bool) {
	for _, r := range c.Repos {
		if strings.EqualFold(r.Name, repo) {
			return merge(c.Defaults, r), true
		}
	}
	return RepoSettings{}, false
}

func merge(d, r RepoSettings) RepoSettings {
	if len(r.Policies) == 0 && len(r.Identities) == 0 && len(r.Keys) == 0 {
		r.Policies, r.Identities, r.Keys = d.Policies, d.Identities, d.Keys
		if len(r.PolicyIgnore) == 0 {
			r.PolicyIgnore = d.PolicyIgnore
		}
	}
	if r.TrustedRoot == "" && !r.TUF {
		r.TrustedRoot, r.TUF, r.TUFCache = d.TrustedRoot, d.TUF, d.TUFCache
	}
	if r.RequireMatch == nil {
		r.RequireMatch = d.RequireMatch
	}
	if r.StrictUnknownImages == nil {
		r.StrictUnknownImages = d.StrictUnknownImages
	}
	if len(r.Branches) == 0 {
		r.Branches = d.Branches
	}
	if r.CheckRuns == nil {
		r.CheckRuns = d.CheckRuns
	}
	if r.Attestations == "" {
		r.Attestations, r.GitHubAttestations = d.Attestations, d.GitHubAttestations
	}
	return r
}
