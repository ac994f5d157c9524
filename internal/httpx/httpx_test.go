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
		{"jsonx is not json", "application/jsonx", exact, 64, 415, "unsupported_media_type"},
		{"json prefix with suffix", "application/json-seq", exact, 64, 415, "unsupported_media_type"},
		{"case of the media type does not matter", "Application/JSON; Charset=UTF-8", exact, 64, 0, ""},
		{"other charset", "application/json; charset=latin1", exact, 64, 415, "unsupported_media_type"},
		{"malformed media type", "application/json; charset", exact, 64, 415, "unsupported_media_type"},
		{"duplicate key", "application/json", `{"name":"abc","name":"x"}`, 64, 400, "duplicate_key"},
		{"key differing in case", "application/json", `{"Name":"abc"}`, 64, 400, "key_case_mismatch"},
		{"key folding to the name", "application/json", `{"NAME":"abc"}`, 64, 400, "key_case_mismatch"},
		{"whitespace only", "application/json", "  \n", 64, 400, "invalid_json"},
		{"malformed", "application/json", `{"name":`, 64, 400, "invalid_json"},
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

type nested struct {
	Embedded
	Items []item          `json:"items"`
	Meta  map[string]item `json:"meta"`
	Raw   json.RawMessage `json:"raw"`
	Ptr   *item           `json:"ptr"`
	Any   any             `json:"any"`
	Skip  string          `json:"-"`
	Plain string
}

type Embedded struct {
	Top string `json:"top"`
}

type item struct {
	ID string `json:"id"`
}

// Duplicates and case-only matches are found at every depth, through
// slices, maps, pointers and embedded structs; maps and raw values are
// checked for duplicates only.
func TestDecodeJSONStrictKeys(t *testing.T) {
	for _, tc := range []struct {
		body, code string
	}{
		{`{"top":"a","items":[{"id":"1"},{"id":"2"}],"meta":{"K":{"id":"x"},"k":{"id":"y"}},"raw":{"A":1,"a":2},"ptr":{"id":"p"},"any":{"X":1},"Plain":"p"}`, ""},
		{`{"Top":"a"}`, "key_case_mismatch"},
		{`{"items":[{"id":"1"},{"ID":"2"}]}`, "key_case_mismatch"},
		{`{"items":[{"id":"1","id":"2"}]}`, "duplicate_key"},
		{`{"meta":{"k":{"id":"x"},"k":{"id":"y"}}}`, "duplicate_key"},
		{`{"meta":{"k":{"Id":"x"}}}`, "key_case_mismatch"},
		{`{"ptr":{"iD":"p"}}`, "key_case_mismatch"},
		{`{"raw":{"a":1,"a":2}}`, "duplicate_key"},
		{`{"any":[{"x":1,"x":1}]}`, "duplicate_key"},
		{`{"plain":"p"}`, "key_case_mismatch"},
		{`{"Skip":"x"}`, "invalid_json"},
		{`{"\u017fkip":"x"}`, "invalid_json"},
		{`{"items":[],"items":[]}`, "duplicate_key"},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		var v nested
		err := DecodeJSON(httptest.NewRecorder(), r, 1<<10, &v)
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.body, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != 400 || e.Code != tc.code {
			t.Errorf("%s: %v, want 400 %s", tc.body, err, tc.code)
		}
	}
}

func TestSafeText(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "hello": true, "Zoë 🎉 会议": true, "a\tb": false, "a\x00": false, "\x7f": false, "\u0085": false,
		"\u202a": false, "\u202e": false, "\u2066": false, "\u2069": false, "\u200e": false, "\u200f": false,
		"\u2029": true, "\u200d": true, "\xff": false,
	} {
		if got := SafeText(s); got != want {
			t.Errorf("SafeText(%q) = %v, want %v", s, got, want)
		}
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
