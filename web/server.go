// Package web is the gate's HTTP face: the GitHub webhook endpoint, the JSON
// API, the verdict pages, health and metrics. It translates requests into
// calls on the service and renders what the service returns; it decides
// nothing.
package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Options configure the server.
type Options struct {
	Service       *service.Service
	WebhookSecret []byte
	// APITokens authorise the JSON API (Authorization: Bearer <token>).
	// With none, writes are accepted only in demo mode; reads are open
	// only when no access control at all is configured.
	APITokens []string
	Demo      bool
	// UI access control (optional): HTTP basic auth, or a header set by a
	// trusted authenticating proxy (e.g. X-Forwarded-User), believed only
	// on connections from TrustedProxies and never instead of a
	// configured basic auth. With any access control configured (this or
	// APITokens) every read of evaluation data needs it: the API's reads
	// take a bearer token or the UI's credentials.
	BasicUser, BasicPassword string
	TrustedUserHeader        string
	// TrustedProxies are the addresses whose X-Forwarded-For and user
	// header are believed.
	TrustedProxies []netip.Prefix
	// WebhookMaxBody and WebhookInFlight bound webhook bodies before their
	// signature is checked (see github.Receiver; 0 for the defaults).
	WebhookMaxBody, WebhookInFlight int64
	Gatherer                        prometheus.Gatherer
	Metrics                         *service.Metrics
	Logger                          *slog.Logger
}

// New builds the echo server.
func New(o Options) *echo.Echo {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Renderer = newRenderer()
	e.IPExtractor = ipExtractor(o.TrustedProxies)
	e.Use(middleware.Recover())
	e.Use(securityHeaders)
	h := &handlers{o: o, receiver: &github.Receiver{Secret: o.WebhookSecret, MaxBody: o.WebhookMaxBody, Budget: o.WebhookInFlight}}
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", h.ready)
	if o.Gatherer != nil {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})))
	}
	e.POST("/webhooks/github", h.webhook)
	api := e.Group("/api/v1", h.auth)
	api.POST("/evaluations", h.create, middleware.BodyLimit("1M"))
	api.GET("/evaluations", h.list)
	api.GET("/evaluations/:id", h.get)
	api.GET("/images", h.images)
	api.GET("/policies", h.policies)
	api.GET("/summaries", h.summaries)
	ui := e.Group("", h.uiAuth)
	ui.GET("/", h.listPage)
	ui.GET("/evaluations/:id", h.evaluationPage)
	ui.GET("/images", h.imagePage)
	ui.GET("/policies", h.policyPage)
	e.GET("/static/*", staticHandler())
	return e
}

// staticHandler serves the files of static/ and nothing else: no
// template sources, no directory listings.
func staticHandler() echo.HandlerFunc {
	static, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err)
	}
	return func(c echo.Context) error {
		name := strings.TrimPrefix(c.Param("*"), "/")
		if name == "" || !fs.ValidPath(name) {
			return c.String(http.StatusNotFound, "not found\n")
		}
		st, err := fs.Stat(static, name)
		if err != nil || !st.Mode().IsRegular() {
			return c.String(http.StatusNotFound, "not found\n")
		}
		http.ServeFileFS(c.Response(), c.Request(), static, name)
		return nil
	}
}

// ipExtractor takes the client address from X-Forwarded-For only when the
// connection comes from a trusted proxy; otherwise the peer's address is
// the client's, whatever the headers say.
func ipExtractor(proxies []netip.Prefix) echo.IPExtractor {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range proxies {
		_, n, err := net.ParseCIDR(p.String())
		if err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// fromTrustedProxy reports whether the connection's peer is a trusted
// proxy (the peer itself, never a forwarded address).
func (h *handlers) fromTrustedProxy(c echo.Context) bool {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		host = c.Request().RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range h.o.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		return next(c)
	}
}

type handlers struct {
	o        Options
	receiver *github.Receiver
}

// ready answers anonymous probes: why the gate is not ready (trust
// material, the store) goes to the log, not to the caller.
func (h *handlers) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	if err := h.o.Service.Ready(ctx); err != nil {
		h.o.Logger.Warn("not ready", "err", err)
		return c.String(http.StatusServiceUnavailable, "not ready (the log says why)\n")
	}
	return c.String(http.StatusOK, "ready\n")
}

// webhook authenticates, records and acknowledges a delivery; the work is
// done by the workers, so the answer comes in milliseconds.
func (h *handlers) webhook(c echo.Context) error {
	d, err := h.receiver.Read(c.Request())
	if err != nil {
		h.count("unknown", "rejected")
		h.o.Logger.Warn("webhook rejected", "remote", c.RealIP(), "err", err)
		switch {
		case errors.Is(err, github.ErrTooLarge):
			return c.JSON(http.StatusRequestEntityTooLarge, map[string]string{"error": "payload larger than GitHub sends"})
		case errors.Is(err, github.ErrBusy):
			c.Response().Header().Set("Retry-After", "5")
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": "busy; redeliver"})
		case errors.Is(err, github.ErrMalformed):
			return c.JSON(http.StatusBadRequest, map[string]string{"error": err.Error()})
		}
		return c.JSON(http.StatusUnauthorized, map[string]string{"error": "signature does not match"})
	}
	res, err := h.o.Service.Intake(c.Request().Context(), d)
	if errors.Is(err, service.ErrBadRequest) {
		// Signed, but not something the gate can act on: redelivering the
		// same payload would not change that.
		h.count("unknown", "malformed")
		h.o.Logger.Warn("webhook malformed", "delivery", d.ID, "event", d.Event, "err", err)
		return c.JSON(http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	if err != nil {
		h.count(d.Event, "error")
		h.o.Logger.Error("webhook not recorded", "delivery", d.ID, "event", d.Event, "err", err)
		return c.JSON(http.StatusInternalServerError, map[string]string{"error": "not recorded; redeliver"})
	}
	outcome := "queued"
	switch {
	case res.Duplicate:
		outcome = "duplicate"
	case res.Ignored != "":
		outcome = "ignored"
		h.o.Logger.Info("webhook ignored", "delivery", d.ID, "event", d.Event, "reason", res.Ignored)
	}
	h.count(d.Event, outcome)
	return c.JSON(http.StatusAccepted, map[string]any{"delivery": d.ID, "outcome": outcome, "evaluation": res.EvaluationID, "reason": res.Ignored})
}

func (h *handlers) count(event, outcome string) {
	if h.o.Metrics != nil {
		h.o.Metrics.Webhooks.WithLabelValues(event, outcome).Inc()
	}
}

// accessControlled reports whether any access control is configured: then
// every read of evaluation data needs a credential.
func (h *handlers) accessControlled() bool {
	return len(h.o.APITokens) > 0 || h.uiAuthConfigured()
}

func (h *handlers) uiAuthConfigured() bool {
	return h.o.BasicUser != "" || h.o.TrustedUserHeader != ""
}

// bearer returns the API token the request carries, if it is one of the
// configured ones.
func (h *handlers) bearer(c echo.Context) (string, bool) {
	got, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return "", false
	}
	for _, t := range h.o.APITokens {
		if subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
			return t, true
		}
	}
	return "", false
}

// uiUser reports whether the request carries the UI's credentials: basic
// auth when it is configured (a proxy header never replaces it), else the
// user header, from a trusted proxy only.
func (h *handlers) uiUser(c echo.Context) bool {
	if h.o.BasicUser != "" {
		u, p, ok := c.Request().BasicAuth()
		return ok && subtle.ConstantTimeCompare([]byte(u), []byte(h.o.BasicUser)) == 1 &&
			subtle.ConstantTimeCompare([]byte(p), []byte(h.o.BasicPassword)) == 1
	}
	if h.o.TrustedUserHeader != "" {
		return c.Request().Header.Get(h.o.TrustedUserHeader) != "" && h.fromTrustedProxy(c)
	}
	return false
}

// requester names the caller for its quota: a digest of its token.
func requester(token string) string {
	if token == "" {
		return "anonymous"
	}
	sum := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(sum[:6])
}

func (h *handlers) unauthorized(c echo.Context) error {
	if len(h.o.APITokens) > 0 {
		c.Response().Header().Add("WWW-Authenticate", `Bearer realm="gitops-gate"`)
	}
	if h.o.BasicUser != "" {
		c.Response().Header().Add("WWW-Authenticate", `Basic realm="gitops-gate", charset="UTF-8"`)
	}
	return c.JSON(http.StatusUnauthorized, map[string]string{"error": "authentication required"})
}

// auth guards the JSON API: writes take a bearer token (or, without
// tokens, only the demo's); reads take a token or the UI's credentials
// whenever any access control is configured.
func (h *handlers) auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok, hasToken := h.bearer(c)
		if c.Request().Method != http.MethodGet && c.Request().Method != http.MethodHead {
			switch {
			case hasToken:
			case len(h.o.APITokens) == 0 && h.o.Demo:
			case len(h.o.APITokens) == 0:
				return c.JSON(http.StatusForbidden, map[string]string{"error": "the API accepts writes only with apiTokens configured"})
			default:
				return h.unauthorized(c)
			}
			c.Set(requesterKey, requester(tok))
			return next(c)
		}
		if !h.accessControlled() || hasToken || h.uiUser(c) {
			return next(c)
		}
		return h.unauthorized(c)
	}
}

const requesterKey = "gitops-gate.requester"

// uiAuth guards the pages when any access control is configured: the UI's
// credentials, or an API token.
func (h *handlers) uiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !h.accessControlled() || h.uiUser(c) {
			return next(c)
		}
		if _, ok := h.bearer(c); ok {
			return next(c)
		}
		if h.o.BasicUser != "" {
			c.Response().Header().Set("WWW-Authenticate", `Basic realm="gitops-gate", charset="UTF-8"`)
		}
		return c.String(http.StatusUnauthorized, "authentication required\n")
	}
}

func (h *handlers) images(c echo.Context) error {
	ref := c.QueryParam("ref")
	if ref == "" {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": "ref: an image reference or digest is required"})
	}
	hist, err := h.o.Service.ImageHistory(c.Request().Context(), ref)
	if err != nil {
		return c.JSON(http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
	if hist == nil {
		hist = []store.ImageHistory{}
	}
	return c.JSON(http.StatusOK, map[string]any{"ref": ref, "history": hist})
}

// summaries is the list page's per-repository summary: ?repo=owner/name
// for one repository, else the most recently evaluated ones.
func (h *handlers) summaries(c echo.Context) error {
	repo := c.QueryParam("repo")
	since := time.Now().Add(-summaryWindow)
	sums, err := h.o.Service.Summaries(c.Request().Context(), store.SummaryOptions{Repo: repo, Since: since})
	if err != nil {
		return c.JSON(http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
	if sums == nil {
		sums = []store.RepoSummary{}
	}
	return c.JSON(http.StatusOK, map[string]any{"since": since.UTC().Truncate(time.Second), "repositories": sums})
}

func (h *handlers) policies(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"engines": h.o.Service.Policies()})
}

// create queues an evaluation; with ?wait=30s it answers when it is done
// (or when the wait is over, with its current state).
func (h *handlers) create(c echo.Context) error {
	var req service.Request
	if err := decodeBody(c.Request(), &req); err != nil {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	// Every parameter is checked before anything is queued.
	wait, err := waitParam(c)
	if err != nil {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	req.Requester, _ = c.Get(requesterKey).(string)
	id, err := h.o.Service.Submit(c.Request().Context(), req)
	if errors.Is(err, service.ErrBadRequest) {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	if errors.Is(err, service.ErrQuota) {
		c.Response().Header().Set("Retry-After", "30")
		return c.JSON(http.StatusTooManyRequests, map[string]string{"error": err.Error() + ": wait for some to finish"})
	}
	if err != nil {
		return c.JSON(http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
	c.Response().Header().Set("Location", "/api/v1/evaluations/"+id)
	if wait == 0 {
		return c.JSON(http.StatusAccepted, map[string]string{"id": id, "state": store.StateQueued})
	}
	ev, err := h.o.Service.Wait(c.Request().Context(), id, wait)
	if err != nil {
		return c.JSON(http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
	code := http.StatusOK
	if !ev.Done() {
		code = http.StatusAccepted
	}
	return c.JSON(code, ev)
}

func waitParam(c echo.Context) (time.Duration, error) {
	w := c.QueryParam("wait")
	if w == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(w)
	if err != nil {
		if n, err2 := strconv.Atoi(w); err2 == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
	}
	if err != nil || d < 0 || d > config.MaxWait {
		return 0, fmt.Errorf("wait: want a duration up to %v, e.g. 30s", config.MaxWait)
	}
	return d, nil
}

func (h *handlers) get(c echo.Context) error {
	ev, err := h.o.Service.Get(c.Request().Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return c.JSON(http.StatusNotFound, map[string]string{"error": "no evaluation " + c.Param("id")})
	}
	if err != nil {
		return c.JSON(http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
	return c.JSON(http.StatusOK, ev)
}

func (h *handlers) list(c echo.Context) error {
	f, err := filterOf(c)
	if err != nil {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	evs, total, err := h.o.Service.List(c.Request().Context(), f)
	if err != nil {
		return c.JSON(http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
	if evs == nil {
		evs = []*store.Evaluation{}
	}
	return c.JSON(http.StatusOK, map[string]any{"total": total, "offset": f.Offset, "limit": f.Limit, "evaluations": evs})
}

// renderer renders html/template pages: every value is escaped.
type renderer struct{ t *template.Template }

func newRenderer() *renderer {
	t := template.Must(template.New("").Funcs(funcs).ParseFS(assets, "templates/*.html"))
	return &renderer{t: t}
}

func (r *renderer) Render(w io.Writer, name string, data any, _ echo.Context) error {
	return r.t.ExecuteTemplate(w, name, data)
}
