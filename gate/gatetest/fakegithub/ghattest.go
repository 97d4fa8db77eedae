package fakegithub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/snappy"
)

// GitHubAttestations configure how the fake answers the artifact
// attestations API (GET /repos/{owner}/{repo}/attestations/{digest} and
// GET /orgs/{org}/attestations/{digest}), in the shapes GitHub answers
// with (docs.github.com REST "List attestations"; cli/cli
// pkg/cmd/attestation/api).
type GitHubAttestations struct {
	// PageSize caps per_page (GitHub's cap is 100); the rest follows in
	// pages linked by a Link header with rel="next" and an after cursor.
	PageSize int
	// ByURL serves each bundle by reference, as GitHub does since 2026:
	// "bundle": null and a pre-signed bundle_url on blob storage serving
	// the snappy-compressed bundle (application/x-snappy).
	ByURL bool
	// RateLimited answers every attestations request with 403 and
	// x-ratelimit-remaining: 0 (primary limit), or 429 with Retry-After
	// (secondary limit).
	RateLimited int
	// Status, when set, answers every attestations request with it.
	Status int
}

// SetAttestations configures the attestations API.
func (f *GitHub) SetAttestations(c GitHubAttestations) {
	f.mu.Lock()
	f.attCfg = c
	f.mu.Unlock()
}

// AddAttestation stores a Sigstore bundle (JSON) for subject digest
// (sha256:…) under repository owner/name: both the repository's and its
// owner's endpoint list it.
func (f *GitHub) AddAttestation(repo, digest string, bundle []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.atts == nil {
		f.atts = map[string][][]byte{}
	}
	owner, _, _ := strings.Cut(repo, "/")
	for _, k := range []string{"repos/" + repo + "|" + digest, "orgs/" + owner + "|" + digest} {
		f.atts[k] = append(f.atts[k], bundle)
	}
}

// AttestationRequests lists the attestations API requests received
// ("GET /repos/acme/app/attestations/sha256:…?per_page=100 auth=true").
func (f *GitHub) AttestationRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.attReqs...)
}

// serveAttestations answers the attestations API and the bundle blobs
// (the caller holds f.mu).
func (f *GitHub) serveAttestations(w http.ResponseWriter, r *http.Request, path string) {
	f.attReqs = append(f.attReqs, fmt.Sprintf("%s %s auth=%v", r.Method, r.URL.RequestURI(), r.Header.Get("Authorization") != ""))
	if strings.HasPrefix(path, "/blobs/") {
		// Blob storage: pre-signed URLs, never GitHub credentials.
		if r.Header.Get("Authorization") != "" {
			f.bad = append(f.bad, "GitHub credentials sent to the bundle blob store: "+r.URL.Path)
		}
		i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(path, "/blobs/"), ".json.sn"))
		if err != nil || i < 0 || i >= len(f.blobs) || r.URL.Query().Get("sig") != "fake" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/x-snappy")
		w.Write(snappy.Encode(nil, f.blobs[i]))
		return
	}
	c := f.attCfg
	switch {
	case c.RateLimited == http.StatusForbidden:
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Used", "5000")
		w.Header().Set("X-RateLimit-Resource", "core")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).Unix(), 10))
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]any{"message": "API rate limit exceeded for installation ID 1.",
			"documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"})
		return
	case c.RateLimited == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
		json.NewEncoder(w).Encode(map[string]any{"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."})
		return
	case c.Status != 0:
		w.WriteHeader(c.Status)
		json.NewEncoder(w).Encode(map[string]any{"message": http.StatusText(c.Status)})
		return
	}
	if r.Method != http.MethodGet {
		f.bad = append(f.bad, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	// /repos/{owner}/{repo}/attestations/{digest} or /orgs/{org}/attestations/{digest}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var key string
	switch {
	case len(parts) == 5 && parts[0] == "repos" && parts[3] == "attestations":
		key = "repos/" + parts[1] + "/" + parts[2] + "|" + parts[4]
	case len(parts) == 4 && parts[0] == "orgs" && parts[2] == "attestations":
		key = "orgs/" + parts[1] + "|" + parts[3]
	default:
		f.bad = append(f.bad, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	list := f.atts[key]
	if len(list) == 0 {
		// GitHub answers 404 when no attestation names the digest.
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"message": "Not Found",
			"documentation_url": "https://docs.github.com/rest/repos/repos#list-attestations", "status": "404"})
		return
	}
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 || per > 100 {
		per = 30
	}
	if c.PageSize > 0 && per > c.PageSize {
		per = c.PageSize
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("after"))
	end := min(start+per, len(list))
	out := []map[string]any{}
	for i := start; i < end; i++ {
		a := map[string]any{"repository_id": 123456}
		if c.ByURL {
			f.blobs = append(f.blobs, list[i])
			a["bundle"] = nil
			a["bundle_url"] = fmt.Sprintf("%s/blobs/%d.json.sn?sig=fake", f.Server.URL, len(f.blobs)-1)
		} else {
			a["bundle"] = json.RawMessage(list[i])
		}
		out = append(out, a)
	}
	if end < len(list) {
		next := *r.URL
		q := next.Query()
		q.Set("after", strconv.Itoa(end))
		q.Set("per_page", strconv.Itoa(per))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, f.Server.URL, next.RequestURI()))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"attestations": out})
}
