// Package argocd holds what the gate knows of Argo CD: which Application
// a hook belongs to (the tracking annotation on its Job), what a running
// sync applies (every source, each at the commit the controller resolved),
// how a source renders (CheckSource, shared by the hook's local mode and
// the gate service), how Argo CD decodes a plugin's output (PluginOutput),
// and how the hook asks the gate service and binds its answer to the
// question. It reads the Kubernetes API with the hook pod's service
// account: get on its own Job and on Applications is all it needs.
package argocd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"
)

// Cluster is how to reach the Kubernetes API.
type Cluster struct {
	// APIServer is the API's URL; empty means in-cluster
	// (KUBERNETES_SERVICE_HOST/PORT with the service account's CA).
	APIServer string
	// TokenFile holds the bearer token (default: the service account's).
	TokenFile string
	// CAFile holds the API's CA (default: the service account's).
	CAFile string
}

const serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"

// Sync reads the Application namespace/name and returns what its running
// sync applies (see ParseSync).
func (c Cluster) Sync(ctx context.Context, namespace, name string) (*Application, error) {
	body, err := c.get(ctx, fmt.Sprintf("/apis/argoproj.io/v1alpha1/namespaces/%s/applications/%s", url.PathEscape(namespace), url.PathEscape(name)))
	if err != nil {
		return nil, fmt.Errorf("reading Application %s/%s: %w", namespace, name, err)
	}
	return ParseSync(body)
}

// get reads one object from the API.
func (c Cluster) get(ctx context.Context, path string) ([]byte, error) {
	client, base, token, err := c.client()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func (c Cluster) client() (*http.Client, string, string, error) {
	base := c.APIServer
	tokenFile, caFile := c.TokenFile, c.CAFile
	if base == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" {
			return nil, "", "", errors.New("not in a cluster (no KUBERNETES_SERVICE_HOST) and no --kube-api given")
		}
		base = "https://" + net.JoinHostPort(host, port)
		if tokenFile == "" {
			tokenFile = path.Join(serviceAccount, "token")
		}
		if caFile == "" {
			caFile = path.Join(serviceAccount, "ca.crt")
		}
	}
	token := ""
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, "", "", fmt.Errorf("service account token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, "", "", fmt.Errorf("cluster CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "", "", fmt.Errorf("cluster CA %s: no certificates", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, base, token, nil
}

// RepoName turns a Git URL into owner/name (https://github.com/acme/gitops.git,
// git@github.com:acme/gitops.git).
func RepoName(repoURL string) string {
	s := strings.TrimSuffix(strings.TrimSpace(repoURL), ".git")
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		if j := strings.IndexByte(s, '/'); j >= 0 {
			s = s[j+1:]
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 && strings.Contains(s[:i], "@") {
		s = s[i+1:]
	}
	return strings.Trim(s, "/")
}
