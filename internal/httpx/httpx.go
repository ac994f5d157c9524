// Package httpx holds the small HTTP helpers every Switchboard handler shares:
// the JSON error body, strict JSON decoding with a size limit, and validation.
//
// All functions are safe for concurrent use.
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"
)

// Error is the body of every error response of the REST API:
// {"code":"<stable_snake_case>","message":"..."}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given status and code.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes err as {"code","message"}. An error that is not an *Error
// becomes 500 internal_error with a generic message: internal details never
// reach the client.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: "internal_error", Message: "internal error"}
	}
	WriteJSON(w, e.Status, e)
}

// Validate is the shared validator instance (validator.Validate is safe for
// concurrent use and caches struct metadata).
var Validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name := strings.SplitN(f.Tag.Get("json"), ",", 2)[0]
		if name == "-" {
			return ""
		}
		return name
	})
	return v
}

// DecodeJSON reads r's body (at most limit bytes) into dst, strictly, so
// that Switchboard reads a body exactly as any other JSON reader (a proxy
// that validates it, say) would, then validates dst with the `validate`
// struct tags. Errors are *Error values ready for WriteError:
//
//   - 415 unsupported_media_type: a Content-Type other than application/json
//     (parsed as a media type: "application/jsonx" is not JSON), or a charset
//     other than utf-8; no Content-Type at all is accepted;
//   - 413 body_too_large: more than limit bytes;
//   - 400 invalid_json: empty, malformed, unknown fields, trailing data;
//   - 400 duplicate_key: a key repeated within one object;
//   - 400 key_case_mismatch: a key that names a field only when compared
//     case-insensitively ("Name" for "name");
//   - 400 validation_failed: the struct tags' rules.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	return decodeJSON(w, r, limit, dst, false)
}

// DecodeOptionalJSON is DecodeJSON for routes whose body may be absent: an
// empty body leaves dst as it is and is not an error.
func DecodeOptionalJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	return decodeJSON(w, r, limit, dst, true)
}

// checkMediaType accepts an empty Content-Type and application/json with
// no charset or charset=utf-8.
func checkMediaType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	return Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json (charset utf-8)")
}

func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any, optional bool) error {
	if err := checkMediaType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body is larger than %d bytes", limit)
		}
		return Errorf(http.StatusBadRequest, "invalid_json", "cannot read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return ValidateStruct(dst)
		}
		return Errorf(http.StatusBadRequest, "invalid_json", "request body is empty")
	}
	if err := checkKeys(body, reflect.TypeOf(dst)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return Errorf(http.StatusBadRequest, "invalid_json", "request body is not valid JSON: %s", sanitize(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Errorf(http.StatusBadRequest, "invalid_json", "request body has data after the JSON value")
	}
	return ValidateStruct(dst)
}

// ValidateStruct runs the validator on v and turns a failure into a
// 400 validation_failed *Error naming the fields.
func ValidateStruct(v any) error {
	err := Validate.Struct(v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return Errorf(http.StatusBadRequest, "validation_failed", "invalid request")
	}
	parts := make([]string, 0, len(verrs))
	for _, fe := range verrs {
		ns := fe.Namespace()
		if i := strings.IndexByte(ns, '.'); i >= 0 {
			ns = ns[i+1:]
		}
		if fe.Param() != "" {
			parts = append(parts, fmt.Sprintf("%s: %s=%s", ns, fe.Tag(), fe.Param()))
		} else {
			parts = append(parts, fmt.Sprintf("%s: %s", ns, fe.Tag()))
		}
	}
	return Errorf(http.StatusBadRequest, "validation_failed", "%s", strings.Join(parts, "; "))
}

// sanitize shortens a decoder error to one line without echoing large input.
func sanitize(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
