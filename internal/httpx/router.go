package httpx

import (
	"errors"
	"net/http"
)

// Route handles one request on behalf of account (the account the caller
// acts for): it writes the response, or returns an error for the Router to
// write.
type Route func(w http.ResponseWriter, r *http.Request, account string) error

// StatusFunc maps an error to its HTTP status and the code and message of
// the error body. Each package has one (auth.HTTPStatus, rooms.HTTPStatus,
// calling.HTTPStatus).
type StatusFunc func(err error) (status int, code, message string)

// AccountFunc admits a request and returns the account it acts for, or an
// error when the caller may not use the API (auth.AdminAccount).
type AccountFunc func(r *http.Request) (account string, err error)

// Router serves one package's REST API. Its patterns are relative to the
// API root ("POST /calls", "GET /calls/{id}"): the host mounts it with
// http.StripPrefix("/v1", router) on the subtrees the package owns. Every
// route runs only for a caller account admits; errors, the refusal
// included, are written by WriteError after status maps them. A path no
// route serves is 404 route_not_found, a method no route of the path takes
// is 405 method_not_allowed with Allow, both as JSON. Register routes before
// serving; serving is safe for concurrent use.
type Router struct {
	mux     *http.ServeMux
	account AccountFunc
	status  StatusFunc
}

var _ http.Handler = (*Router)(nil)

// NewRouter returns a Router whose routes are admitted by account and whose
// errors are mapped by status. A nil status writes *Error values as they
// are and every other error as 500 internal_error.
func NewRouter(account AccountFunc, status StatusFunc) *Router {
	if status == nil {
		status = func(error) (int, string, string) {
			return http.StatusInternalServerError, "internal_error", "internal error"
		}
	}
	return &Router{mux: http.NewServeMux(), account: account, status: status}
}

// Handle registers fn for pattern (net/http.ServeMux syntax, with a method).
func (rt *Router) Handle(pattern string, fn Route) {
	rt.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		account, err := rt.account(r)
		if err == nil {
			err = fn(w, r, account)
		}
		if err != nil {
			rt.WriteError(w, err)
		}
	})
}

// WriteError writes err: an *Error as it is, any other error as the
// Router's StatusFunc maps it.
func (rt *Router) WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		status, code, msg := rt.status(err)
		e = &Error{Status: status, Code: code, Message: msg}
	}
	WriteError(w, e)
}

// ServeHTTP routes r, answering a miss with the API's JSON error body
// rather than net/http's text.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := rt.mux.Handler(r)
	if pattern != "" {
		rt.mux.ServeHTTP(w, r)
		return
	}
	probe := &statusProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		WriteError(w, Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this path"))
		return
	}
	WriteError(w, Errorf(http.StatusNotFound, "route_not_found", "no such route"))
}

// statusProbe captures what the mux would answer for an unmatched request.
type statusProbe struct {
	header http.Header
	status int
}

func (s *statusProbe) Header() http.Header         { return s.header }
func (s *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusProbe) WriteHeader(code int)        { s.status = code }
