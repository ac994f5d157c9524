package httpx_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

var (
	errRefused = errors.New("refused")
	errMissing = errors.New("no such thing")
)

func status(err error) (int, string, string) {
	switch {
	case errors.Is(err, errRefused):
		return http.StatusForbidden, "forbidden", "not for you"
	case errors.Is(err, errMissing):
		return http.StatusNotFound, "thing_not_found", "no such thing"
	}
	return http.StatusInternalServerError, "internal_error", "internal error"
}

// account admits callers that name an account in X-Account.
func account(r *http.Request) (string, error) {
	if a := r.Header.Get("X-Account"); a != "" {
		return a, nil
	}
	return "", errRefused
}

func newThings() *httpx.Router {
	rt := httpx.NewRouter(account, status)
	rt.Handle("GET /things/{id}", func(w http.ResponseWriter, r *http.Request, account string) error {
		switch r.PathValue("id") {
		case "mine":
			if account != "A" {
				return errMissing // another account's id is 404
			}
			httpx.WriteJSON(w, http.StatusOK, map[string]string{"id": "mine", "account": account})
			return nil
		case "bad":
			return httpx.Errorf(http.StatusBadRequest, "bad_thing", "a bad thing")
		case "boom":
			return errors.New("secret internal detail")
		}
		return errMissing
	})
	rt.Handle("POST /things", func(w http.ResponseWriter, r *http.Request, account string) error {
		w.WriteHeader(http.StatusCreated)
		return nil
	})
	return rt
}

// The router serves relative patterns under any prefix the host strips,
// and every answer that is not a success is a JSON {"code","message"}.
func TestRouter(t *testing.T) {
	for _, prefix := range []string{"", "/v1", "/rtc/v1"} {
		h := http.StripPrefix(prefix, newThings())
		for _, tc := range []struct {
			method, path, account string
			status                int
			code, allow           string
		}{
			{"GET", "/things/mine", "A", 200, "", ""},
			{"POST", "/things", "A", 201, "", ""},
			{"GET", "/things/mine", "B", 404, "thing_not_found", ""},
			{"GET", "/things/mine", "", 403, "forbidden", ""},
			{"POST", "/things", "", 403, "forbidden", ""},
			{"GET", "/things/bad", "A", 400, "bad_thing", ""},
			{"GET", "/things/boom", "A", 500, "internal_error", ""},
			{"GET", "/nothing", "A", 404, "route_not_found", ""},
			{"GET", "/nothing", "", 404, "route_not_found", ""},
			{"GET", "/things/mine/deeper", "A", 404, "route_not_found", ""},
			{"DELETE", "/things/mine", "A", 405, "method_not_allowed", "GET, HEAD"},
			{"GET", "/things", "A", 405, "method_not_allowed", "POST"},
		} {
			r := httptest.NewRequest(tc.method, prefix+tc.path, nil)
			if tc.account != "" {
				r.Header.Set("X-Account", tc.account)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			name := tc.method + " " + prefix + tc.path + " as " + tc.account
			if w.Code != tc.status || w.Header().Get("Allow") != tc.allow {
				t.Errorf("%s: %d (Allow %q) %s, want %d (Allow %q)", name, w.Code, w.Header().Get("Allow"), w.Body, tc.status, tc.allow)
				continue
			}
			if tc.code == "" {
				continue
			}
			var e httpx.Error
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code != tc.code || e.Message == "" ||
				w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s: body %s (%s), want code %s", name, w.Body, w.Header().Get("Content-Type"), tc.code)
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Errorf("%s: an internal error reached the client: %s", name, w.Body)
			}
		}
	}
}

// Without a StatusFunc, *Error values are written as they are and any
// other error is a 500 that says nothing of it.
func TestRouterDefaultStatus(t *testing.T) {
	rt := httpx.NewRouter(account, nil)
	rt.Handle("GET /a", func(http.ResponseWriter, *http.Request, string) error {
		return httpx.Errorf(http.StatusConflict, "busy", "busy")
	})
	rt.Handle("GET /b", func(http.ResponseWriter, *http.Request, string) error { return errors.New("secret") })
	for path, want := range map[string]int{"/a": 409, "/b": 500} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("X-Account", "A")
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, r)
		if w.Code != want || strings.Contains(w.Body.String(), "secret") || !strings.Contains(w.Body.String(), `"code"`) {
			t.Errorf("%s: %d %s, want %d", path, w.Code, w.Body, want)
		}
	}
}
