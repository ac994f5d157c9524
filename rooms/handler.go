package rooms

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// DefaultMaxBody is the largest request body the REST handler reads (413 past it).
const DefaultMaxBody = 64 << 10

// MaxBroadcastBytes is the longest text POST /sessions/{sid}/broadcast
// takes, in bytes of UTF-8 (400 text_too_long past it).
const MaxBroadcastBytes = 16 << 10

// Broadcaster sends text to every endpoint connected to a session and
// returns how many received it. *calling.Server implements it.
// Implementations must be safe for concurrent use.
type Broadcaster interface {
	Broadcast(ctx context.Context, account, sessionID, text string) (received int, err error)
}

// NetworkQualities tells the current network quality level of a
// participant ("EXCELLENT", "GOOD", "FAIR", "POOR" or "BAD"), and false
// when it is not known (not connected, not scored yet). *calling.Server
// implements it. Implementations must be safe for concurrent use.
type NetworkQualities interface {
	NetworkQuality(account, participantID string) (level string, ok bool)
}

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	// Manager holds the state (required).
	Manager *Manager
	// Issuer mints the token POST /participants returns (required).
	Issuer *auth.Issuer
	// Broadcaster serves POST /sessions/{sid}/broadcast. Nil: that route is
	// not served (404 route_not_found).
	Broadcaster Broadcaster
	// Quality adds each participant's current network quality level to
	// the participant objects of GET /participants/{pid} and GET
	// /sessions/{sid}/participants (networkQuality, when known). Nil: the
	// field is never set.
	Quality NetworkQualities
	// TokenTTL of participant tokens, at most the issuer's MaxTTL. Default:
	// the issuer's default.
	TokenTTL time.Duration
	// MaxBody in bytes. Default 64 KiB.
	MaxBody int64
}

// Handler serves the REST API of sessions and participants (docs/rest.md
// and docs/openapi.yaml, modelled on Bandwidth's WebRTC API) at paths
// relative to the API root: /participants..., /sessions... The host mounts
// it with http.StripPrefix("/v1", h) at /v1/participants and /v1/sessions
// (each with its subtree). Every route needs a caller with the admin grant
// in the request context (auth.AdminAccount; put auth.Middleware in front);
// records are scoped to the caller's account, and another account's ids
// are 404. Safe for concurrent use.
type Handler struct {
	cfg    HandlerConfig
	router *httpx.Router
}

var _ http.Handler = (*Handler)(nil)

// NewHandler validates cfg and returns the REST handler.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Manager == nil || cfg.Issuer == nil {
		return nil, errors.New("rooms: HandlerConfig needs Manager and Issuer")
	}
	if cfg.TokenTTL < 0 || cfg.TokenTTL > cfg.Issuer.MaxTTL() {
		return nil, errors.New("rooms: HandlerConfig.TokenTTL must be in [0, the issuer's MaxTTL]")
	}
	cfg.MaxBody = cmp.Or(cfg.MaxBody, DefaultMaxBody)
	h := &Handler{cfg: cfg, router: httpx.NewRouter(auth.AdminAccount, HTTPStatus)}
	rt := h.router
	rt.Handle("POST /participants", h.createParticipant)
	rt.Handle("GET /participants/{pid}", h.getParticipant)
	rt.Handle("DELETE /participants/{pid}", h.deleteParticipant)
	rt.Handle("POST /sessions", h.createSession)
	rt.Handle("GET /sessions/{sid}", h.getSession)
	rt.Handle("DELETE /sessions/{sid}", h.deleteSession)
	rt.Handle("GET /sessions/{sid}/participants", h.listSessionParticipants)
	rt.Handle("PUT /sessions/{sid}/participants/{pid}", h.addParticipant)
	rt.Handle("DELETE /sessions/{sid}/participants/{pid}", h.removeParticipant)
	rt.Handle("GET /sessions/{sid}/participants/{pid}/subscriptions", h.getSubscriptions)
	rt.Handle("PUT /sessions/{sid}/participants/{pid}/subscriptions", h.putSubscriptions)
	if cfg.Broadcaster != nil {
		rt.Handle("POST /sessions/{sid}/broadcast", h.broadcast)
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

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

// participantBody is the JSON form of a participant in the GET routes:
// the participant and, when known, its network quality level.
type participantBody struct {
	*Participant
	NetworkQuality string `json:"networkQuality,omitempty"`
}

func (h *Handler) participantBody(account string, p *Participant) participantBody {
	b := participantBody{Participant: p}
	if h.cfg.Quality != nil {
		if level, ok := h.cfg.Quality.NetworkQuality(account, p.ID); ok {
			b.NetworkQuality = level
		}
	}
	return b
}

func (h *Handler) getParticipant(w http.ResponseWriter, r *http.Request, account string) error {
	p, err := h.cfg.Manager.Participant(r.Context(), account, r.PathValue("pid"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, h.participantBody(account, p))
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
	out := make([]participantBody, len(ps))
	for i, p := range ps {
		out[i] = h.participantBody(account, p)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
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

// BroadcastRequest is the body of POST /sessions/{sid}/broadcast.
type BroadcastRequest struct {
	Text string `json:"text" validate:"required"`
}

// BroadcastResponse tells how many endpoints received the text.
type BroadcastResponse struct {
	Received int `json:"received"`
}

// broadcast sends a text to the session's endpoints (Infobip's
// broadcast-webrtc-text): 400 text_too_long past MaxBroadcastBytes, 404
// for a session of another account or none. JSON decoding has already
// replaced bytes that are not UTF-8 (and lone surrogates) with U+FFFD, so
// the invalid_text check is a guard that a request cannot reach.
func (h *Handler) broadcast(w http.ResponseWriter, r *http.Request, account string) error {
	var req BroadcastRequest
	// A byte of text is up to six of JSON (\u0001): the body limit leaves
	// room for any text of MaxBroadcastBytes, so the limit is the text's.
	if err := httpx.DecodeJSON(w, r, 6*MaxBroadcastBytes+1024, &req); err != nil {
		return err
	}
	if !utf8.ValidString(req.Text) {
		return httpx.Errorf(http.StatusBadRequest, "invalid_text", "text is not valid UTF-8")
	}
	if len(req.Text) > MaxBroadcastBytes {
		return httpx.Errorf(http.StatusBadRequest, "text_too_long", "text is over %d bytes", MaxBroadcastBytes)
	}
	sid := r.PathValue("sid")
	if _, err := h.cfg.Manager.Session(r.Context(), account, sid); err != nil {
		return err
	}
	n, err := h.cfg.Broadcaster.Broadcast(r.Context(), account, sid, req.Text)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, BroadcastResponse{Received: n})
	return nil
}
