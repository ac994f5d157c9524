package push

import (
	"cmp"
	"errors"
	"net/http"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// DefaultMaxBody is the largest request body Handler reads (413 past it):
// room for the longest FCM token.
const DefaultMaxBody = 16 << 10

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	// Registry stores the devices (required; usually Waker.Registry()).
	Registry Registry
	// MaxBody in bytes. Default 16 KiB.
	MaxBody int64
}

// Handler is the REST API of a user's own devices, served at paths relative
// to the API root (the host mounts it with http.StripPrefix("/v1", h)):
//
//	POST   /devices       {platform, token, app?, sandbox?} → 201 the device
//	GET    /devices       → 200 the caller's devices, oldest first
//	DELETE /devices/{id}  → 204; another identity's device is 404
//
// Every route needs a user token in the request context (auth.NewMiddleware
// with the user's Bearer token): the device belongs to the token's account
// and identity (sub). API credentials and admin tokens are refused (403
// forbidden): they name no user. Registering needs the incoming grant.
// Safe for concurrent use.
type Handler struct {
	cfg HandlerConfig
	mux *http.ServeMux
}

// NewHandler returns the devices API.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Registry == nil {
		return nil, errors.New("push: HandlerConfig needs a Registry")
	}
	cfg.MaxBody = cmp.Or(cfg.MaxBody, DefaultMaxBody)
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	h.route("POST /devices", h.register)
	h.route("GET /devices", h.list)
	h.route("DELETE /devices/{id}", h.remove)
	return h, nil
}

func (h *Handler) route(pattern string, fn func(w http.ResponseWriter, r *http.Request, c *auth.Claims) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, ok := auth.FromContext(r.Context())
		switch {
		case !ok:
			httpx.WriteError(w, httpx.Errorf(http.StatusUnauthorized, "unauthorized", "a user token is required"))
			return
		case c.IsAdmin() || c.Account == "" || !auth.ValidIdentity(c.Subject):
			httpx.WriteError(w, httpx.Errorf(http.StatusForbidden, "forbidden", "devices belong to users: use the user's token"))
			return
		}
		if err := fn(w, r, c); err != nil {
			httpx.WriteError(w, HTTPError(err))
		}
	})
}

// ServeHTTP implements http.Handler; a request no route matches gets the
// API's JSON error (404 route_not_found or 405 method_not_allowed).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		probe := &statusProbe{header: http.Header{}}
		h.mux.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			httpx.WriteError(w, httpx.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this path"))
			return
		}
		httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "route_not_found", "no such route"))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// statusProbe captures what the mux would answer for an unmatched request.
type statusProbe struct {
	header http.Header
	status int
}

func (s *statusProbe) Header() http.Header         { return s.header }
func (s *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusProbe) WriteHeader(code int)        { s.status = code }

// RegisterRequest is the body of POST /devices.
type RegisterRequest struct {
	Platform Platform `json:"platform" validate:"required,oneof=apns fcm"`
	Token    string   `json:"token" validate:"required"`
	App      string   `json:"app,omitempty"`
	Sandbox  bool     `json:"sandbox,omitempty"`
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request, c *auth.Claims) error {
	if !c.CanReceiveCalls() {
		return httpx.Errorf(http.StatusForbidden, "forbidden", "registering a device needs the incoming grant")
	}
	var req RegisterRequest
	if err := httpx.DecodeJSON(w, r, h.cfg.MaxBody, &req); err != nil {
		return err
	}
	d, err := h.cfg.Registry.Register(r.Context(), Device{
		Account: c.Account, Identity: c.Subject,
		Platform: req.Platform, Token: req.Token, App: req.App, Sandbox: req.Sandbox,
	})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, d)
	return nil
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, c *auth.Claims) error {
	ds, err := h.cfg.Registry.Devices(r.Context(), c.Account, c.Subject)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, ds)
	return nil
}

func (h *Handler) remove(w http.ResponseWriter, r *http.Request, c *auth.Claims) error {
	if err := h.cfg.Registry.Remove(r.Context(), c.Account, c.Subject, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
