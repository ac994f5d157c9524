package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/switchboard-rtc/switchboard/calling"
)

// unreachable is a shared store's error when it cannot be reached (as
// adapters/redis.UnavailableError says it).
type unreachable struct{}

func (unreachable) Error() string     { return "store: connection refused" }
func (unreachable) Unavailable() bool { return true }

// Every /v1 route may meet a shared store that cannot be reached (each
// checks a Bearer token against the revoked token ids; most read or write
// a store too): the document lets every /v1 operation answer 503 with the
// body the packages write then, and still refuses a 503 code it does not
// list.
func TestStoreUnavailableDocumented(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("docs/openapi.yaml is not valid OpenAPI: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	status, code, message := calling.HTTPStatus(unreachable{})
	if status != http.StatusServiceUnavailable || code != "store_unavailable" {
		t.Fatalf("calling maps an unreachable store to %d %s", status, code)
	}
	validate := func(method, path string, status int, body any) error {
		b, _ := json.Marshal(body)
		concrete := strings.NewReplacer("{sessionId}", "s-x", "{participantId}", "p-x", "{callId}", "c-x", "{tokenId}", "t-x",
			"{deviceId}", "d-x", "{recordingId}", "r-x").Replace(path)
		req, _ := http.NewRequest(method, "http://localhost"+concrete, nil)
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body:    io.NopCloser(bytes.NewReader(b)),
			Options: opts, // ValidateResponse reads its own input's Options, not the request's: without them an undocumented status passes
		})
	}
	checked := 0
	for path, item := range doc.Paths.Map() {
		if !strings.HasPrefix(path, "/v1/") {
			continue // /oauth2/token answers in RFC 6749's format; the key set needs no store
		}
		for method := range item.Operations() {
			checked++
			if err := validate(method, path, status, map[string]string{"code": code, "message": message}); err != nil {
				t.Errorf("%s %s: 503 %s does not match docs/openapi.yaml: %v", method, path, code, err)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d /v1 operations", checked)
	}
	if err := validate("GET", "/v1/sessions/{sessionId}", 503, map[string]string{"code": "server_full", "message": "x"}); err == nil {
		t.Fatal("the document takes any 503 code for GET /v1/sessions/{sessionId}: the check above proves nothing")
	}
	if err := validate("GET", "/v1/sessions/{sessionId}", 502, map[string]string{"code": code, "message": message}); err == nil {
		t.Fatal("the check takes a status the document does not list: the check above proves nothing")
	}
}
