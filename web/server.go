// Package web is the gate's HTTP face: the GitHub webhook endpoint, the JSON
// API, the verdict pages, health and metrics. It translates requests into
// calls on the service and renders what the service returns; it decides
// nothing.
package web

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Options configure the server.
type Options struct {
	Service       *service.Service
	WebhookSecret []byte
	// APITokens authorise the JSON API (Authorization: Bearer <token>).
	// With none, reads are open and writes only in demo mode.
	APITokens []string
	Demo      bool
	// UI access control (optional): HTTP basic auth, and/or a header set
	// by a trusted authenticating proxy (e.g. X-Forwarded-User). The JSON
	// API keeps its bearer tokens.
	BasicUser, BasicPassword string
	TrustedUserHeader        string
	Gatherer                 prometheus.Gatherer
	Metrics                  *service.Metrics
	Logger                   *slog.Logger
}

// New builds the echo server.
func New(o Options) *echo.Echo {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Renderer = newRenderer()
	e.Use(middleware.Recover())
	e.Use(securityHeaders)
	h := &handlers{o: o}
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", h.ready)
	if o.Gatherer != nil {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})))
	}
	e.POST("/webhooks/github", h.webhook, middleware.BodyLimit("25M"))
	api := e.Group("/api/v1", h.auth)
	api.POST("/evaluations", h.create, middleware.BodyLimit("1M"))
	api.GET("/evaluations", h.list)
	api.GET("/evaluations/:id", h.get)
	api.GET("/images", h.images)
	api.GET("/policies", h.policies)
	ui := e.Group("", h.uiAuth)
	ui.GET("/", h.listPage)
	ui.GET("/evaluations/:id", h.evaluationPage)
	ui.GET("/images", h.imagePage)
	ui.GET("/policies", h.policyPage)
	e.GET("/static/*", echo.WrapHandler(http.FileServer(http.FS(assets))))
	return e
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

type handlers struct{ o Options }

func (h *handlers) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	if err := h.o.Service.Ready(ctx); err != nil {
		return c.String(http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
	}
	return c.String(http.StatusOK, "ready\n")
}

// webhook authenticates, records and acknowledges a delivery; the work is
// done by the workers, so the answer comes in milliseconds.
func (h *handlers) webhook(c echo.Context) error {
	d, err := github.ReadDelivery(c.Request(), h.o.WebhookSecret)
	if err != nil {
		h.count("unknown", "rejected")
		h.o.Logger.Warn("webhook rejected", "remote", c.RealIP(), "delivery", c.Request().Header.Get("X-GitHub-Delivery"), "err", err)
		return c.JSON(http.StatusUnauthorized, map[string]string{"error": "signature does not match"})
	}
	res, err := h.o.Service.Intake(c.Request().Context(), d)
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

func (h *handlers) auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(h.o.APITokens) == 0 {
			if c.Request().Method == http.MethodGet || h.o.Demo {
				return next(c)
			}
			return c.JSON(http.StatusForbidden, map[string]string{"error": "the API accepts writes only with apiTokens configured"})
		}
		got, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		if ok {
			for _, t := range h.o.APITokens {
				if subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
					return next(c)
				}
			}
		}
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="gitops-gate"`)
		return c.JSON(http.StatusUnauthorized, map[string]string{"error": "a valid bearer token is required"})
	}
}

// uiAuth guards the pages when access control is configured.
func (h *handlers) uiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if h.o.BasicUser == "" && h.o.TrustedUserHeader == "" {
			return next(c)
		}
		if h.o.TrustedUserHeader != "" && c.Request().Header.Get(h.o.TrustedUserHeader) != "" {
			return next(c)
		}
		if h.o.BasicUser != "" {
			u, p, ok := c.Request().BasicAuth()
			if ok && subtle.ConstantTimeCompare([]byte(u), []byte(h.o.BasicUser)) == 1 &&
				subtle.ConstantTimeCompare([]byte(p), []byte(h.o.BasicPassword)) == 1 {
				return next(c)
			}
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
	id, err := h.o.Service.Submit(c.Request().Context(), req)
	if errors.Is(err, service.ErrBadRequest) {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": err.Error()})
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
	if err != nil || d < 0 || d > 10*time.Minute {
		return 0, errors.New("wait: want a duration up to 10m, e.g. 30s")
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
