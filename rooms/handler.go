package rooms

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// DefaultMaxBody is the largest request body the REST handler reads (413 past it).
const DefaultMaxBody = 64 << 10

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	// Manager holds the state (required).
	Manager *Manager
	// Issuer mints the token POST /participants returns (required).
	Issuer *auth.Issuer
	// Prefix the host mounts the handler at. Default "/v1".
	Prefix string
	// TokenTTL of participant tokens. Default: the issuer's default.
	TokenTTL time.Duration
	// MaxBody in bytes. Default 64 KiB.
	MaxBody int64
}

// Handler serves the REST API of sessions, participants and subscriptions
// (modelled on Bandwidth's WebRTC API). Every route
// needs an authenticated caller with the admin grant in the request context
// (wrap it in auth.Middleware); records are scoped to the caller's account,
// and another account's ids are 404. Safe for concurrent use.
type Handler struct {
	cfg HandlerConfig
	mux *http.ServeMux
}

// NewHandler returns the REST handler.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Manager == nil || cfg.Issuer == nil {
		return nil, errors.New("rooms: HandlerConfig needs Manager and Issuer")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/v1"
	}
	cfg.Prefix = strings.TrimSuffix(cfg.Prefix, "/")
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	p := cfg.Prefix
	h.route("POST "+p+"/participants", h.createParticipant)
	h.route("GET "+p+"/participants/{pid}", h.getParticipant)
	h.route("DELETE "+p+"/participants/{pid}", h.deleteParticipant)
	h.route("POST "+p+"/sessions", h.createSession)
	h.route("GET "+p+"/sessions/{sid}", h.getSession)
	h.route("DELETE "+p+"/sessions/{sid}", h.deleteSession)
	h.route("GET "+p+"/sessions/{sid}/participants", h.listSessionParticipants)
	h.route("PUT "+p+"/sessions/{sid}/participants/{pid}", h.addParticipant)
	h.route("DELETE "+p+"/sessions/{sid}/participants/{pid}", h.removeParticipant)
	h.route("GET "+p+"/sessions/{sid}/participants/{pid}/subscriptions", h.getSubscriptions)
	h.route("PUT "+p+"/sessions/{sid}/participants/{pid}/subscriptions", h.putSubscriptions)
	return h, nil
}

// Handle lets another package add a route under the same prefix and the
// same account scoping (calling adds POST /sessions/{sid}/broadcast).
func (h *Handler) Handle(pattern string, fn func(w http.ResponseWriter, r *http.Request, account string) error) {
	h.route(pattern, fn)
}

// Prefix returns the prefix the routes live under.
func (h *Handler) Prefix() string { return h.cfg.Prefix }

func (h *Handler) route(pattern string, fn func(w http.ResponseWriter, r *http.Request, account string) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, ok := auth.FromContext(r.Context())
		if !ok || !c.Grants.Admin {
			httpx.WriteError(w, httpx.Errorf(http.StatusForbidden, "forbidden", "admin credentials are required"))
			return
		}
		if err := fn(w, r, c.Account); err != nil {
			httpx.WriteError(w, HTTPError(err))
		}
	})
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A pattern miss gets the API's JSON error body, not net/http's text.
	if _, pattern := h.mux.Handler(r); pattern == "" {
		rec := &statusProbe{header: http.Header{}}
		h.mux.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
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

type createParticipantRequest struct {
	Tag                string       `json:"tag,omitempty"`
	Identity           string       `json:"identity,omitempty"`
	PublishPermissions []auth.Media `json:"publishPermissions" validate:"max=2,dive,oneof=AUDIO VIDEO"`
	DeviceAPIVersion   string       `json:"deviceApiVersion,omitempty" validate:"omitempty,oneof=V3"`
}

type createParticipantResponse struct {
	Participant *Participant `json:"participant"`
	Token       string       `json:"token"`
}

func (h *Handler) createParticipant(w http.ResponseWriter, r *http.Request, account string) error {
	var req createParticipantRequest
	if err := httpx.DecodeJSON(w, r, h.cfg.MaxBody, &req); err != nil {
		return err
	}
	p, err := h.cfg.Manager.CreateParticipant(r.Context(), account, ParticipantSpec{Tag: req.Tag, Identity: req.Identity, PublishPermissions: req.PublishPermissions})
	if err != nil {
		return err
	}
	identity := p.Identity
	if identity == "" {
		identity = p.ID
	}
	tok, _, err := h.cfg.Issuer.Mint(r.Context(), auth.TokenRequest{
		Identity: identity, Account: account, ParticipantID: p.ID, TTL: h.cfg.TokenTTL,
		Grants: auth.Grants{Publish: p.PublishPermissions, Data: true},
	})
	if err != nil {
		_ = h.cfg.Manager.DeleteParticipant(r.Context(), account, p.ID)
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, createParticipantResponse{Participant: p, Token: tok})
	return nil
}

func (h *Handler) getParticipant(w http.ResponseWriter, r *http.Request, account string) error {
	p, err := h.cfg.Manager.Participant(r.Context(), account, r.PathValue("pid"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *Handler) deleteParticipant(w http.ResponseWriter, r *http.Request, account string) error {
	if err := h.cfg.Manager.DeleteParticipant(r.Context(), account, r.PathValue("pid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type createSessionRequest struct {
	Tag string `json:"tag,omitempty"`
}

// sessionBody is the JSON form of a session.
type sessionBody struct {
	ID        string    `json:"id"`
	Tag       string    `json:"tag,omitempty"`
	Room      string    `json:"room,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// Participants are the member ids, sorted.
	Participants []string `json:"participants"`
}

func toSessionBody(s *Session) sessionBody {
	return sessionBody{ID: s.ID, Tag: s.Tag, Room: s.Room, CreatedAt: s.CreatedAt, Participants: s.MemberIDs()}
}

func (h *Handler) createSession(w http.ResponseWriter, r *http.Request, account string) error {
	var req createSessionRequest
	if err := httpx.DecodeOptionalJSON(w, r, h.cfg.MaxBody, &req); err != nil {
		return err
	}
	s, err := h.cfg.Manager.CreateSession(r.Context(), account, req.Tag)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, toSessionBody(s))
	return nil
}

func (h *Handler) getSession(w http.ResponseWriter, r *http.Request, account string) error {
	s, err := h.cfg.Manager.Session(r.Context(), account, r.PathValue("sid"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, toSessionBody(s))
	return nil
}

func (h *Handler) deleteSession(w http.ResponseWriter, r *http.Request, account string) error {
	if err := h.cfg.Manager.DeleteSession(r.Context(), account, r.PathValue("sid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listSessionParticipants(w http.ResponseWriter, r *http.Request, account string) error {
	ps, err := h.cfg.Manager.SessionParticipants(r.Context(), account, r.PathValue("sid"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, ps)
	return nil
}

// addParticipantRequest is the optional body of PUT .../participants/{pid}.
type addParticipantRequest struct {
	Subscriptions *Subscriptions `json:"subscriptions,omitempty"`
}

func (h *Handler) addParticipant(w http.ResponseWriter, r *http.Request, account string) error {
	var req addParticipantRequest
	if err := httpx.DecodeOptionalJSON(w, r, h.cfg.MaxBody, &req); err != nil {
		return err
	}
	if err := h.cfg.Manager.AddParticipant(r.Context(), account, r.PathValue("sid"), r.PathValue("pid"), req.Subscriptions); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) removeParticipant(w http.ResponseWriter, r *http.Request, account string) error {
	if err := h.cfg.Manager.RemoveParticipant(r.Context(), account, r.PathValue("sid"), r.PathValue("pid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) getSubscriptions(w http.ResponseWriter, r *http.Request, account string) error {
	subs, err := h.cfg.Manager.Subscriptions(r.Context(), account, r.PathValue("sid"), r.PathValue("pid"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, subs)
	return nil
}

func (h *Handler) putSubscriptions(w http.ResponseWriter, r *http.Request, account string) error {
	subs := &Subscriptions{}
	if err := httpx.DecodeOptionalJSON(w, r, h.cfg.MaxBody, subs); err != nil {
		return err
	}
	if err := h.cfg.Manager.SetSubscriptions(r.Context(), account, r.PathValue("sid"), r.PathValue("pid"), subs); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
