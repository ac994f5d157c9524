package calling

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// The headers of a request from another node: the kind of relay or
// request, the sender's clock (unix seconds) and an HMAC-SHA256 with the
// cluster secret over "kind\ntime\n" and the relayed token or the body.
const (
	hdrRelay     = "Switchboard-Relay"
	hdrRelayTime = "Switchboard-Relay-Time"
	hdrRelaySig  = "Switchboard-Relay-Signature"
)

// relaySkew is how far a relay's time may be from this node's.
const relaySkew = time.Minute

// maxRelayBody bounds the body of a request between nodes.
const maxRelayBody = 64 << 10

// Requests between nodes (POST to the signaling endpoint).
const (
	rpcBroadcast  = "broadcast"
	rpcPlaceCall  = "place-call"
	rpcCallInfo   = "call-info"
	rpcHangupCall = "hangup-call"
)

func relayMAC(secret []byte, kind, ts string, subject []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(kind + "\n" + ts + "\n"))
	m.Write(subject)
	return m.Sum(nil)
}

func (s *Server) signRelay(h http.Header, kind string, subject []byte) {
	ts := strconv.FormatInt(s.clock.Now().Unix(), 10)
	h.Set(hdrRelay, kind)
	h.Set(hdrRelayTime, ts)
	h.Set(hdrRelaySig, base64.RawURLEncoding.EncodeToString(relayMAC(s.cfg.ClusterSecret, kind, ts, subject)))
}

// relayAuthentic reports whether r comes from a node of this cluster.
func (s *Server) relayAuthentic(r *http.Request, kind string, subject []byte) bool {
	ts := r.Header.Get(hdrRelayTime)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := s.clock.Now().Sub(time.Unix(sec, 0)); d > relaySkew || d < -relaySkew {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(r.Header.Get(hdrRelaySig))
	if err != nil {
		return false
	}
	return hmac.Equal(sig, relayMAC(s.cfg.ClusterSecret, kind, ts, subject)) // constant time
}

var errRelayUnauthorized = httpx.Errorf(http.StatusUnauthorized, "relay_unauthorized", "not a request from a node of this cluster")

// serveRelay serves a connection or request another node relayed here.
func (s *Server) serveRelay(w http.ResponseWriter, r *http.Request, kind string) {
	if s.cfg.Cluster == nil {
		httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "not_found", "this server is not part of a cluster"))
		return
	}
	switch kind {
	case relayConnection, relayRoom, relayCall:
		s.serveRelayedConn(w, r, kind)
	case rpcBroadcast, rpcPlaceCall, rpcCallInfo, rpcHangupCall, rpcStartRecording, rpcStopRecording:
		if r.Method != http.MethodPost {
			httpx.WriteError(w, httpx.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "POST"))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRelayBody+1))
		if err != nil || len(body) > maxRelayBody {
			httpx.WriteError(w, httpx.Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body too large"))
			return
		}
		if !s.relayAuthentic(r, kind, body) {
			httpx.WriteError(w, errRelayUnauthorized)
			return
		}
		s.serveRPC(w, r.Context(), kind, body)
	default:
		httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "bad_relay", "unknown relay kind"))
	}
}

func (s *Server) serveRelayedConn(w http.ResponseWriter, r *http.Request, kind string) {
	token, _ := auth.TokenFromRequest(r, false)
	if !s.relayAuthentic(r, kind, []byte(token)) {
		httpx.WriteError(w, errRelayUnauthorized)
		return
	}
	// The relaying node used a single-use token up: check it again here, but
	// do not use it a second time.
	claims, verr := s.cfg.Verifier.VerifyPresented(r.Context(), token)
	release, err := s.lim.admitConn(nil) // the relaying node counted the identity's connections
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	defer release()
	home := func() {}
	if verr == nil && kind == relayConnection {
		addr, rel, err := s.holdHome(r.Context(), identKey{claims.Account, claims.Subject})
		if err == nil && addr != "" {
			err = errMoved // the home moved meanwhile: the client reconnects
		}
		if err != nil {
			httpx.WriteError(w, errorToHTTP(err))
			return
		}
		home = rel
	}
	defer home()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	conn.SetReadLimit(s.cfg.MaxMessageBytes)
	if verr != nil {
		refuse(r.Context(), conn, &protocol.Error{Code: 403, Reason: protocol.ReasonTokenInvalid, Message: "token expired or invalid; refresh it and retry"})
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	p := newPeer(s, conn, claims)
	p.relayIn, p.tok = kind, token
	p.noRing = kind != relayConnection
	p.run()
	s.lim.releasePC(p)
}

// errorToHTTP maps a signaling error to the REST error form.
func errorToHTTP(err error) error {
	if httpx.Unavailable(err) {
		status, code, msg := httpx.StoreUnavailable()
		return httpx.Errorf(status, code, "%s", msg)
	}
	pe := protocolError(err)
	return httpx.Errorf(pe.Code, pe.Reason, "%s", pe.Message)
}

// rpcRequest is the body of a request between nodes.
type rpcRequest struct {
	Account   string                `json:"account"`
	SessionID string                `json:"sessionId,omitempty"`
	Text      string                `json:"text,omitempty"`
	From      string                `json:"from,omitempty"`
	To        string                `json:"to,omitempty"`
	Options   *protocol.CallOptions `json:"options,omitempty"`
	CallID    string                `json:"callId,omitempty"`
}

func (s *Server) serveRPC(w http.ResponseWriter, ctx context.Context, kind string, body []byte) {
	var req rpcRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Account == "" {
		httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "bad_request", "malformed request between nodes"))
		return
	}
	switch kind {
	case rpcBroadcast:
		n, err := s.broadcastHere(req.Account, req.SessionID, req.Text)
		if err != nil {
			writeHTTPError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]int{"received": n})
	case rpcPlaceCall:
		opts := protocol.CallOptions{Audio: true}
		if req.Options != nil {
			opts = *req.Options
		}
		c, err := s.placeCallHere(ctx, req.Account, req.From, req.To, opts, true)
		if err != nil {
			writeHTTPError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusCreated, c.Info())
	case rpcStartRecording, rpcStopRecording:
		// Served here, never forwarded again: the holder said it is here.
		t := RecordingTarget{Account: req.Account, CallID: req.CallID, SessionID: req.SessionID}
		var id string
		var err error
		if s.cfg.Recorder == nil {
			err = ErrNoRecorder
		} else if kind == rpcStartRecording {
			id, err = s.StartRecording(ctx, t, req.Text)
		} else {
			err = s.StopRecording(ctx, t)
		}
		httpx.WriteJSON(w, http.StatusOK, recordingAnswerOf(id, err))
	case rpcCallInfo, rpcHangupCall:
		c, ok := s.Call(req.Account, req.CallID)
		if !ok {
			writeHTTPError(w, errCallNotFound)
			return
		}
		if kind == rpcCallInfo {
			httpx.WriteJSON(w, http.StatusOK, c.Info())
			return
		}
		if err := c.Hangup(); err != nil {
			writeHTTPError(w, fmt.Errorf("%w: %w", errCallOver, err))
			return
		}
		httpx.WriteJSON(w, http.StatusOK, struct{}{})
	}
}

// writeHTTPError writes err as the REST API does (HTTPStatus).
func writeHTTPError(w http.ResponseWriter, err error) {
	status, code, msg := HTTPStatus(err)
	httpx.WriteError(w, httpx.Errorf(status, code, "%s", msg))
}

// rpcError is an error another node answered with, as the REST API maps it.
type rpcError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *rpcError) Error() string {
	return fmt.Sprintf("calling: another node answered %d %s: %s", e.Status, e.Code, e.Message)
}

// callRPC sends a request of kind to the node at addr and decodes its
// answer into out.
func (s *Server) callRPC(ctx context.Context, addr, kind string, req rpcRequest, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, relayDialTimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, addr, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	s.signRelay(hr.Header, kind, body)
	resp, err := s.relayHTTP.Do(hr)
	if err != nil {
		s.log.Warn("a request to another node", "node", addr, "err", err)
		return &protocol.Error{Code: 503, Reason: protocol.ReasonNodeUnreachable, Message: "the node serving this could not be reached; retry"}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRelayBody))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &rpcError{Status: resp.StatusCode}
		_ = json.Unmarshal(b, e)
		return e
	}
	return json.Unmarshal(b, out)
}
