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
// with the user's Bearer token), admitted by auth.UserAccount: the device
// belongs to the token's account and identity (sub). No claims is 401;
// API credentials and admin tokens are refused (403 forbidden): they name
// no user. Registering needs the incoming grant. Errors are mapped by
// HTTPStatus. Safe for concurrent use.
type Handler struct {
	cfg    HandlerConfig
	router *httpx.Router
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns the devices API.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Registry == nil {
		return nil, errors.New("push: HandlerConfig needs a Registry")
	}
	cfg.MaxBody = cmp.Or(cfg.MaxBody, DefaultMaxBody)
	h := &Handler{cfg: cfg, router: httpx.NewRouter(auth.UserAccount, HTTPStatus)}
	h.router.Handle("POST /devices", h.register)
	h.router.Handle("GET /devices", h.list)
	h.router.Handle("DELETE /devices/{id}", h.remove)
	return h, nil
}

// ServeHTTP implements http.Handler; a request no route matches gets the
// API's JSON error (404 route_not_found or 405 method_not_allowed).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// user returns the claims auth.UserAccount admitted.
func user(r *http.Request) *auth.Claims {
	c, _ := auth.FromContext(r.Context())
	return c
}

// RegisterRequest is the body of POST /devices.
type RegisterRequest struct {
	Platform Platform `json:"platform" validate:"required,oneof=apns fcm"`
	Token    string   `json:"token" validate:"required"`
	App      string   `json:"app,omitempty"`
	Sandbox  bool     `json:"sandbox,omitempty"`
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request, account string) error {
	c := user(r)
	if !c.CanReceiveCalls() {
		return httpx.Errorf(http.StatusForbidden, "forbidden", "registering a device needs the incoming grant")
	}
	var req RegisterRequest
	if err := httpx.DecodeJSON(w, r, h.cfg.MaxBody, &req); err != nil {
		return err
	}
	d, err := h.cfg.Registry.Register(r.Context(), Device{
		Account: account, Identity: c.Subject,
		Platform: req.Platform, Token: req.Token, App: req.App, Sandbox: req.Sandbox,
	})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, d)
	return nil
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, account string) error {
	ds, err := h.cfg.Registry.Devices(r.Context(), account, user(r).Subject)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, ds)
	return nil
}

func (h *Handler) remove(w http.ResponseWriter, r *http.Request, account string) error {
	if err := h.cfg.Registry.Remove(r.Context(), account, user(r).Subject, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
