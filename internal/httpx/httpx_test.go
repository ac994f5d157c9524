package httpx

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type body struct {
	Name string `json:"name" validate:"required,max=5"`
}

func decode(ct, b string, limit int64) error {
	r := httptest.NewRequest("POST", "/", strings.NewReader(b))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	var v body
	return DecodeJSON(httptest.NewRecorder(), r, limit, &v)
}

func TestDecodeJSON(t *testing.T) {
	exact := `{"name":"abc"}`
	for _, tc := range []struct {
		name, ct, body string
		limit          int64
		status         int
		code           string
	}{
		{"ok", "application/json", exact, 64, 0, ""},
		{"no content type is accepted", "", exact, 64, 0, ""},
		{"charset", "application/json; charset=utf-8", exact, 64, 0, ""},
		{"at the limit", "application/json", exact, int64(len(exact)), 0, ""},
		{"one past the limit", "application/json", exact + " ", int64(len(exact)), 413, "body_too_large"},
		{"wrong content type", "text/plain", exact, 64, 415, "unsupported_media_type"},
		{"empty", "application/json", "", 64, 400, "invalid_json"},
		{"unknown field", "application/json", `{"name":"a","x":1}`, 64, 400, "invalid_json"},
		{"trailing data", "application/json", exact + `{}`, 64, 400, "invalid_json"},
		{"validation", "application/json", `{"name":"toolong"}`, 64, 400, "validation_failed"},
		{"required", "application/json", `{}`, 64, 400, "validation_failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decode(tc.ct, tc.body, tc.limit)
			if tc.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || e.Code != tc.code {
				t.Fatalf("err %v, want %d %s", err, tc.status, tc.code)
			}
		})
	}
	if e := decode("application/json", `{"name":"toolong"}`, 64).(*Error); e.Message != "name: max=5" {
		t.Fatalf("validation message %q names the JSON field and rule", e.Message)
	}
}

func TestDecodeOptionalJSON(t *testing.T) {
	r := httptest.NewRequest("PUT", "/", nil)
	v := struct {
		N int `json:"n"`
	}{N: 7}
	if err := DecodeOptionalJSON(httptest.NewRecorder(), r, 64, &v); err != nil || v.N != 7 {
		t.Fatalf("empty optional body: %v %+v", err, v)
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, errors.New("database password is hunter2"))
	var got map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &got)
	if w.Code != http.StatusInternalServerError || got["code"] != "internal_error" || strings.Contains(w.Body.String(), "hunter2") {
		t.Fatalf("internal errors must not leak: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	WriteError(w, Errorf(http.StatusConflict, "session_full", "full"))
	if w.Code != 409 || w.Header().Get("Content-Type") != "application/json" || !strings.Contains(w.Body.String(), `"code":"session_full"`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
