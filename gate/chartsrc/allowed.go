package chartsrc

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Allowed is one entry of the gate's list of allowed sources: a repository
// URL (Git, Helm or OCI) and, for charts, an optional mirror to fetch from
// and credentials for it. It comes from the gate's configuration only.
type Allowed struct {
	// URL is the repository as Applications and Chart.yaml name it.
	URL string `yaml:"url" json:"url"`
	// Mirror, when set, is where charts of URL are fetched from instead
	// (http(s):// for a Helm repository, oci:// or host/path for OCI).
	Mirror string `yaml:"mirror,omitempty" json:"mirror,omitempty"`
	// Username and Password are sent (HTTP basic auth, or registry
	// credentials) to the host charts are fetched from, and nowhere else.
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	Password string `yaml:"password,omitempty" json:"-"`
}

// ParseAllowed reads the command line's form, URL or URL=MIRROR.
func ParseAllowed(s string) (Allowed, error) {
	a := Allowed{URL: s}
	if u, m, ok := strings.Cut(s, "="); ok {
		a = Allowed{URL: u, Mirror: m}
	}
	return a, a.Validate()
}

// UnmarshalYAML accepts a plain URL string or a mapping.
func (a *Allowed) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*a = Allowed{URL: n.Value}
		return nil
	}
	type plain Allowed
	var p plain
	dec := n.Decode
	if err := dec(&p); err != nil {
		return err
	}
	// KnownFields of the enclosing decoder does not reach a custom
	// unmarshaler: check the keys here, so a typo is not ignored.
	if n.Kind == yaml.MappingNode {
		for i := 0; i < len(n.Content); i += 2 {
			switch k := n.Content[i].Value; k {
			case "url", "mirror", "username", "password":
			default:
				return fmt.Errorf("line %d: sources.allow: unknown field %q (want url, mirror, username, password)", n.Content[i].Line, k)
			}
		}
	}
	*a = Allowed(p)
	return nil
}

// Validate checks the entry's URLs.
func (a Allowed) Validate() error {
	if strings.TrimSpace(a.URL) == "" {
		return errors.New("url is empty")
	}
	for _, u := range []string{a.URL, a.Mirror} {
		if u == "" || !strings.Contains(u, "://") {
			continue
		}
		p, err := url.Parse(u)
		if err != nil {
			return fmt.Errorf("%q: %w", u, err)
		}
		if p.User != nil {
			return fmt.Errorf("%q: credentials belong in username/password, not in the URL", redactURL(u))
		}
	}
	if (a.Username == "") != (a.Password == "") {
		return fmt.Errorf("%s: username and password go together", a.URL)
	}
	return nil
}

// fetchURL is where charts of the entry are fetched from.
func (a Allowed) fetchURL() string {
	if a.Mirror != "" {
		return a.Mirror
	}
	return a.URL
}

// describe names the repository (and its mirror) in errors.
func (a Allowed) describe() string {
	if a.Mirror != "" {
		return fmt.Sprintf("%s (mirror %s)", a.URL, a.Mirror)
	}
	return a.URL
}

// URLs lists the entries' repository URLs, as manifests.Options.AllowSources
// takes them.
func URLs(allow []Allowed) []string {
	out := make([]string, 0, len(allow))
	for _, a := range allow {
		out = append(out, a.URL)
	}
	return out
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
