package recording

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// Controller starts and stops on-demand recordings for the REST API. The
// host implements it where calls and rooms live (package calling): Start
// checks that the call or session exists in the target's account (else
// ErrTargetNotFound) and that the policy permits the type (else a
// *PolicyError, as Resolve with the request as the call option decides),
// starts the recording, tells the participants and returns the type
// recorded (the account setting may lower the request: AUDIO for
// AUDIO_AND_VIDEO). Stop stops it (ErrNotRecording when nothing runs; a
// *PolicyError with ReasonAutomatic for a recording the policy started).
// Implementations must be safe for concurrent use.
type Controller interface {
	Start(ctx context.Context, t Target, typ Type) (Type, error)
	Stop(ctx context.Context, t Target) error
}

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	// Storage holds the recordings (required): the Recorder's Storage().
	Storage Storage
	// Controller serves POST /recordings and DELETE /recordings/active/...;
	// nil answers them with 501 not_implemented.
	Controller Controller
	// MaxBody in bytes. Default 64 KiB.
	MaxBody int64
	// MaxPage is the largest limit of GET /recordings. Default 100; the
	// default limit is 50 (or MaxPage when smaller).
	MaxPage int
}

// Handler serves the recordings REST API at paths relative to the API
// root (the host mounts it with http.StripPrefix("/v1", h) at
// /v1/recordings and /v1/recordings/):
//
//	GET    /recordings                        list (sessionId, callId, identity, from, to; limit, cursor)
//	GET    /recordings/{id}                   one recording's metadata
//	GET    /recordings/{id}/media             the file (Range requests work)
//	DELETE /recordings/{id}                   delete file and metadata
//	POST   /recordings                        start on demand {sessionId|callId, type}
//	DELETE /recordings/active/calls/{id}      stop a call's recording
//	DELETE /recordings/active/sessions/{id}   stop a session's recording
//
// Every route needs a caller with the admin grant in the request context
// (auth.AdminAccount; put auth.Middleware in front); records are scoped to
// the caller's account (another account's ids are 404). Errors are mapped
// by HTTPStatus. Safe for concurrent use.
type Handler struct {
	cfg    HandlerConfig
	router *httpx.Router
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns the REST handler.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Storage == nil {
		return nil, errors.New("recording: HandlerConfig needs Storage")
	}
	if cfg.MaxBody < 0 || cfg.MaxPage < 0 {
		return nil, errors.New("recording: negative MaxBody or MaxPage")
	}
	cfg.MaxBody = cmp.Or(cfg.MaxBody, 64<<10)
	cfg.MaxPage = cmp.Or(cfg.MaxPage, 100)
	h := &Handler{cfg: cfg, router: httpx.NewRouter(auth.AdminAccount, HTTPStatus)}
	rt := h.router
	rt.Handle("GET /recordings", h.list)
	rt.Handle("GET /recordings/{id}", h.get)
	rt.Handle("GET /recordings/{id}/media", h.media)
	rt.Handle("DELETE /recordings/{id}", h.delete)
	rt.Handle("POST /recordings", h.start)
	rt.Handle("DELETE /recordings/active/calls/{callId}", h.stop)
	rt.Handle("DELETE /recordings/active/sessions/{sessionId}", h.stop)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// listBody is the answer of GET /recordings.
type listBody struct {
	Recordings []*Recording `json:"recordings"`
	// NextCursor continues the listing; absent on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

type cursor struct {
	T  int64  `json:"t"`
	ID string `json:"id"`
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, account string) error {
	q := r.URL.Query()
	f := Filter{Account: account, SessionID: q.Get("sessionId"), CallID: q.Get("callId"), Identity: q.Get("identity"), Limit: min(50, h.cfg.MaxPage)}
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(b.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return invalid(b.name + " must be an RFC 3339 time")
			}
			*b.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > h.cfg.MaxPage {
			return invalid("limit must be 1 to " + strconv.Itoa(h.cfg.MaxPage))
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		var c cursor
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || json.Unmarshal(b, &c) != nil || !validID(c.ID) {
			return invalid("cursor is not one this API returned")
		}
		f.After = &Position{StartedAt: time.Unix(0, c.T), ID: c.ID}
	}
	limit := f.Limit
	f.Limit++
	recs, err := h.cfg.Storage.List(r.Context(), f)
	if err != nil {
		return err
	}
	body := listBody{Recordings: recs}
	if len(recs) > limit {
		body.Recordings = recs[:limit]
		body.NextCursor = ListCursor(recs[limit-1])
	}
	if body.Recordings == nil {
		body.Recordings = []*Recording{}
	}
	httpx.WriteJSON(w, http.StatusOK, body)
	return nil
}

// find returns the account's recording id.
func (h *Handler) find(ctx context.Context, account, id string) (*Recording, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	recs, err := h.cfg.Storage.List(ctx, Filter{Account: account, ID: id})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNotFound
	}
	return recs[0], nil
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, account string) error {
	rec, err := h.find(r.Context(), account, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, rec)
	return nil
}

func (h *Handler) media(w http.ResponseWriter, r *http.Request, account string) error {
	rec, err := h.find(r.Context(), account, r.PathValue("id"))
	if err != nil {
		return err
	}
	f, err := h.cfg.Storage.Open(r.Context(), rec, false)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", rec.Format.ContentType())
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", `attachment; filename="`+rec.ID+"."+string(rec.Format)+`"`)
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return nil
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, account string) error {
	rec, err := h.find(r.Context(), account, r.PathValue("id"))
	if err != nil {
		return err
	}
	if rec.Status == StatusRecording {
		return ErrActive
	}
	if err := h.cfg.Storage.Delete(r.Context(), rec); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// startRequest is the body of POST /recordings.
type startRequest struct {
	SessionID string `json:"sessionId,omitempty" validate:"max=128"`
	CallID    string `json:"callId,omitempty" validate:"max=128"`
	Type      Type   `json:"type" validate:"required,oneof=AUDIO AUDIO_AND_VIDEO"`
}

// activeBody is the answer of POST /recordings: what is now recorded (the
// type may be lower than asked: the account setting is the ceiling).
type activeBody struct {
	SessionID string `json:"sessionId,omitempty"`
	CallID    string `json:"callId,omitempty"`
	Type      Type   `json:"type"`
}

func (h *Handler) start(w http.ResponseWriter, r *http.Request, account string) error {
	var req startRequest
	if err := httpx.DecodeJSON(w, r, h.cfg.MaxBody, &req); err != nil {
		return err
	}
	t := Target{Account: account, CallID: req.CallID, SessionID: req.SessionID}
	if !t.valid() {
		return invalid("exactly one of sessionId and callId")
	}
	if h.cfg.Controller == nil {
		return httpx.Errorf(http.StatusNotImplemented, "not_implemented", "on-demand recording is not available")
	}
	typ, err := h.cfg.Controller.Start(r.Context(), t, req.Type)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, activeBody{SessionID: t.SessionID, CallID: t.CallID, Type: cmp.Or(typ, req.Type)})
	return nil
}

func (h *Handler) stop(w http.ResponseWriter, r *http.Request, account string) error {
	t := Target{Account: account, CallID: r.PathValue("callId"), SessionID: r.PathValue("sessionId")}
	if h.cfg.Controller == nil {
		return httpx.Errorf(http.StatusNotImplemented, "not_implemented", "on-demand recording is not available")
	}
	if err := h.cfg.Controller.Stop(r.Context(), t); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ListCursor is the cursor GET /recordings returns after r: a page that
// ends with r continues with it. Several handlers' pages (a cluster's
// nodes) merge in List's order (CompareNewest) and continue from the same
// cursor on each.
func ListCursor(r *Recording) string {
	b, _ := json.Marshal(cursor{T: r.StartedAt.UnixNano(), ID: r.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// CompareNewest orders recordings as List and GET /recordings do: newest
// first (by StartedAt, then ID).
func CompareNewest(a, b *Recording) int { return newer(a, b) }
