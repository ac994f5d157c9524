package calling

import (
	"fmt"
	"net/http"

	"github.com/switchboard-rtc/switchboard/calling/protocol"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// maxPlaceCallBody is the largest body POST /calls reads (413 past it).
const maxPlaceCallBody = 8 << 10

// PlaceCallRequest is the body of POST /calls.
type PlaceCallRequest struct {
	// From is shown to the callee: a display identity or an application name.
	From    string                `json:"from" validate:"required,max=64"`
	To      string                `json:"to" validate:"required,max=80"`
	Options *protocol.CallOptions `json:"options,omitempty"`
}

// CallsHandler returns the REST API of server-placed calls, an http.Handler
// whose paths are relative to the API root (mount it with
// http.StripPrefix("/v1", h) at /v1/calls and /v1/calls/):
//
//   - POST /calls {from, to, options?}: PlaceCall for the caller's account,
//     201 with the call (CallInfo);
//   - GET /calls/{id}: the call's state and history;
//   - DELETE /calls/{id}: hang up (204; 409 call_over once it has ended).
//
// Every route needs a caller with the admin grant (auth.AdminAccount; put
// auth.Middleware in front); another account's calls are 404. Errors are
// mapped by HTTPStatus. The handler is safe for concurrent use.
func (s *Server) CallsHandler() http.Handler {
	rt := httpx.NewRouter(auth.AdminAccount, HTTPStatus)
	rt.Handle("POST /calls", s.placeCallREST)
	rt.Handle("GET /calls/{id}", s.getCallREST)
	rt.Handle("DELETE /calls/{id}", s.hangupCallREST)
	return rt
}

func (s *Server) placeCallREST(w http.ResponseWriter, r *http.Request, account string) error {
	var req PlaceCallRequest
	if err := httpx.DecodeJSON(w, r, maxPlaceCallBody, &req); err != nil {
		return err
	}
	opts := protocol.CallOptions{Audio: true}
	if req.Options != nil {
		opts = *req.Options
	}
	c, err := s.PlaceCall(r.Context(), account, req.From, req.To, opts)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, c.Info())
	return nil
}

func (s *Server) getCallREST(w http.ResponseWriter, r *http.Request, account string) error {
	c, ok, err := s.findCall(r.Context(), account, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !ok {
		return errCallNotFound
	}
	httpx.WriteJSON(w, http.StatusOK, c.Info())
	return nil
}

func (s *Server) hangupCallREST(w http.ResponseWriter, r *http.Request, account string) error {
	c, ok, err := s.findCall(r.Context(), account, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !ok {
		return errCallNotFound
	}
	if err := c.Hangup(); err != nil {
		return fmt.Errorf("%w: %w", errCallOver, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
