package github

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// ErrMalformed marks an authenticated delivery or a request whose content
// the gate will not act on: a commit that is not a full SHA, a repository
// name outside GitHub's character set. Values that end up in URL paths
// (statuses, fetches) are checked here, at intake, so that nothing later
// has to.
var ErrMalformed = errors.New("malformed")

var (
	shaRE = regexp.MustCompile(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)
	// GitHub owners: letters, digits and single hyphens, at most 39;
	// repositories: letters, digits, '.', '-', '_', at most 100, not "." or "..".
	ownerRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$`)
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// ValidSHA reports whether s is a full commit SHA (SHA-1 or SHA-256, lower
// case hex), as GitHub sends them.
func ValidSHA(s string) bool { return shaRE.MatchString(s) }

// CheckSHA returns an ErrMalformed error naming field when s is not a full
// commit SHA.
func CheckSHA(field, s string) error {
	if !ValidSHA(s) {
		return fmt.Errorf("%w: %s %q: want a full commit SHA (40 or 64 hex digits)", ErrMalformed, field, clip(s))
	}
	return nil
}

// CheckRepo returns an ErrMalformed error naming field when s is not an
// owner/name in GitHub's character set.
func CheckRepo(field, s string) error {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || !ownerRE.MatchString(owner) || !nameRE.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("%w: %s %q: want owner/name in GitHub's character set", ErrMalformed, field, clip(s))
	}
	return nil
}

// CheckRef returns an ErrMalformed error naming field when s is not a ref
// the gate fetches: refs/..., with none of the characters git refuses in
// ref names (git check-ref-format) and none that would change a refspec.
func CheckRef(field, s string) error {
	ok := strings.HasPrefix(s, "refs/") && len(s) <= 255 && !strings.Contains(s, "..") && !strings.Contains(s, "//") &&
		!strings.Contains(s, "@{") && !strings.HasSuffix(s, "/") && !strings.HasSuffix(s, ".lock") && !strings.HasSuffix(s, ".")
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`:?*[\^~`, r) {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("%w: %s %q: want a git ref (refs/...)", ErrMalformed, field, clip(s))
	}
	return nil
}

// clip bounds a hostile value quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Origin is the scheme and host (with port) of a URL: what a credential is
// bound to.
func Origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("%q: want scheme://host/...", raw)
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}

// WebOrigin is the origin that serves the repositories of the GitHub whose
// REST API is baseURL: https://github.com for github.com (baseURL ""), and
// the host of the API for GitHub Enterprise Server
// (https://ghe.example.com/api/v3/ → https://ghe.example.com).
func WebOrigin(baseURL string) (string, error) {
	if baseURL == "" {
		return "https://github.com", nil
	}
	o, err := Origin(baseURL)
	if err != nil {
		return "", fmt.Errorf("github.baseURL: %w", err)
	}
	if o == "https://api.github.com" {
		return "https://github.com", nil
	}
	if !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://") {
		return "", fmt.Errorf("github.baseURL %q: want an https URL", baseURL)
	}
	return o, nil
}

// CloneURL is the HTTPS clone URL of repo (owner/name) on the GitHub whose
// REST API is baseURL.
func CloneURL(baseURL, repo string) (string, error) {
	o, err := WebOrigin(baseURL)
	if err != nil {
		return "", err
	}
	return o + "/" + repo + ".git", nil
}
