// Package argocd reads what Argo CD is about to sync: the Application
// object, through the Kubernetes API with the hook pod's service account
// (read-only access to applications.argoproj.io is all it needs).
package argocd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
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

// Source is what the sync will apply.
type Source struct {
	Name           string
	Namespace      string
	RepoURL        string
	Path           string
	TargetRevision string
	// Revision is the commit being synced.
	Revision string
	// Application is the object as the API returned it, and SourceIndex
	// the number of the source above in it, so that the app can be
	// rendered with the Application's own settings.
	Application []byte
	SourceIndex int
}

// Sync reads the Application and returns what is being synced: the
// revision of the running operation (status.operationState.operation.sync),
// else the last synced one. No revision is an error: the hook never passes
// without knowing what it judged.
func (c Cluster) Sync(ctx context.Context, namespace, name string) (*Source, error) {
	client, base, token, err := c.client()
	if err != nil {
		return nil, err
	}
	u := fmt.Sprintf("%s/apis/argoproj.io/v1alpha1/namespaces/%s/applications/%s", strings.TrimRight(base, "/"), url.PathEscape(namespace), url.PathEscape(name))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading Application %s/%s: %w", namespace, name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading Application %s/%s: %s: %s", namespace, name, resp.Status, strings.TrimSpace(string(body)))
	}
	var app struct {
		Spec struct {
			Source  *appSource  `json:"source"`
			Sources []appSource `json:"sources"`
		} `json:"spec"`
		Status struct {
			Sync struct {
				Revision  string   `json:"revision"`
				Revisions []string `json:"revisions"`
			} `json:"sync"`
			OperationState *struct {
				Operation struct {
					Sync *struct {
						Revision  string   `json:"revision"`
						Revisions []string `json:"revisions"`
					} `json:"sync"`
				} `json:"operation"`
			} `json:"operationState"`
		} `json:"status"`
	}
	if err := json.Unmarshal(body, &app); err != nil {
		return nil, fmt.Errorf("Application %s/%s: %w", namespace, name, err)
	}
	src := app.Spec.Source
	idx := 0
	if src == nil {
		for i := range app.Spec.Sources {
			if app.Spec.Sources[i].Path != "" && app.Spec.Sources[i].Chart == "" {
				src, idx = &app.Spec.Sources[i], i
				break
			}
		}
	}
	if src == nil {
		return nil, fmt.Errorf("Application %s/%s has no source in a Git repository", namespace, name)
	}
	s := &Source{Name: name, Namespace: namespace, RepoURL: src.RepoURL, Path: src.Path, TargetRevision: src.TargetRevision,
		Application: body, SourceIndex: idx}
	pick := func(rev string, revs []string) string {
		if len(revs) > idx && revs[idx] != "" {
			return revs[idx]
		}
		return rev
	}
	if op := app.Status.OperationState; op != nil && op.Operation.Sync != nil {
		s.Revision = pick(op.Operation.Sync.Revision, op.Operation.Sync.Revisions)
	}
	if s.Revision == "" {
		s.Revision = pick(app.Status.Sync.Revision, app.Status.Sync.Revisions)
	}
	if s.Revision == "" {
		return nil, fmt.Errorf("Application %s/%s: no revision being synced (status.operationState.operation.sync.revision is empty)", namespace, name)
	}
	return s, nil
}

type appSource struct {
	RepoURL        string `json:"repoURL"`
	Path           string `json:"path"`
	TargetRevision string `json:"targetRevision"`
	Chart          string `json:"chart"`
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
