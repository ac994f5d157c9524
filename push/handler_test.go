package push_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/push"
)

type apiTest struct {
	t   *testing.T
	h   http.Handler
	reg *push.MemoryRegistry
}

func newAPITest(t *testing.T, cfg push.MemoryRegistryConfig) *apiTest {
	reg := push.NewMemoryRegistry(cfg)
	h, err := push.NewHandler(push.HandlerConfig{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	return &apiTest{t: t, h: h, reg: reg}
}

func user(account, identity string) *auth.Claims {
	return &auth.Claims{Subject: identity, Account: account, Grants: auth.Grants{Incoming: true, Outgoing: true}}
}

// do sends a request as c (nil: no claims) and returns status, code (of an
// error body) and body.
func (a *apiTest) do(c *auth.Claims, method, path, body string) (int, string, string) {
	a.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if c != nil {
		r = r.WithContext(auth.NewContext(r.Context(), c))
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	var e struct{ Code string }
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	return w.Code, e.Code, w.Body.String()
}

func (a *apiTest) expect(c *auth.Claims, method, path, body string, status int, code string) string {
	a.t.Helper()
	got, gotCode, b := a.do(c, method, path, body)
	if got != status || gotCode != code {
		a.t.Fatalf("%s %s %.80s: %d %q %s, want %d %q", method, path, body, got, gotCode, b, status, code)
	}
	return b
}

func TestHandlerRegisterListDelete(t *testing.T) {
	a := newAPITest(t, push.MemoryRegistryConfig{})
	alice := user("acct-1", "alice")
	tok := strings.Repeat("AB", 32)
	body := a.expect(alice, "POST", "/devices", `{"platform":"apns","token":"`+tok+`","app":"com.example.phone","sandbox":true}`, 201, "")
	var d map[string]any
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if d["identity"] != "alice" || d["platform"] != "apns" || d["token"] != strings.ToLower(tok) || d["app"] != "com.example.phone" ||
		d["sandbox"] != true || d["createdAt"] == nil || !strings.HasPrefix(d["id"].(string), "d-") || d["account"] != nil {
		t.Fatalf("device %s", body)
	}
	id := d["id"].(string)
	a.expect(alice, "POST", "/devices", `{"platform":"fcm","token":"fcm:token-1"}`, 201, "")

	var list []push.Device
	_ = json.Unmarshal([]byte(a.expect(alice, "GET", "/devices", "", 200, "")), &list)
	if len(list) != 2 || list[0].ID != id || list[1].Platform != push.FCM {
		t.Fatalf("list %+v", list)
	}
	// Another identity of the account, and the same identity in another
	// account, see none of it and cannot delete it.
	for _, other := range []*auth.Claims{user("acct-1", "bob"), user("acct-2", "alice")} {
		if b := a.expect(other, "GET", "/devices", "", 200, ""); strings.TrimSpace(b) != "[]" {
			t.Fatalf("%s/%s sees %s", other.Account, other.Subject, b)
		}
		a.expect(other, "DELETE", "/devices/"+id, "", 404, "device_not_found")
	}
	a.expect(alice, "DELETE", "/devices/"+id, "", 204, "")
	a.expect(alice, "DELETE", "/devices/"+id, "", 404, "device_not_found")
	a.expect(alice, "DELETE", "/devices/d-nothing", "", 404, "device_not_found")
}

func TestHandlerDeviceLimit(t *testing.T) {
	a := newAPITest(t, push.MemoryRegistryConfig{MaxDevicesPerIdentity: 2})
	alice := user("acct-1", "alice")
	a.expect(alice, "POST", "/devices", `{"platform":"fcm","token":"t1"}`, 201, "")
	a.expect(alice, "POST", "/devices", `{"platform":"fcm","token":"t2"}`, 201, "")
	a.expect(alice, "POST", "/devices", `{"platform":"fcm","token":"t3"}`, 409, "too_many_devices")
	a.expect(alice, "POST", "/devices", `{"platform":"fcm","token":"t2"}`, 201, "")
	a.expect(user("acct-1", "bob"), "POST", "/devices", `{"platform":"fcm","token":"t3"}`, 201, "")
}

func TestHandlerRegistryFull(t *testing.T) {
	a := newAPITest(t, push.MemoryRegistryConfig{MaxDevices: 1})
	a.expect(user("a", "alice"), "POST", "/devices", `{"platform":"fcm","token":"t1"}`, 201, "")
	a.expect(user("a", "bob"), "POST", "/devices", `{"platform":"fcm","token":"t2"}`, 503, "registry_full")
}

func TestHandlerValidation(t *testing.T) {
	a := newAPITest(t, push.MemoryRegistryConfig{MaxDevicesPerIdentity: 100})
	alice := user("acct-1", "alice")
	hex := func(n int) string { return strings.Repeat("0", n) }
	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"platform":"apns","token":"` + hex(64) + `"}`, 201, ""},
		{`{"platform":"apns","token":"` + hex(63) + `"}`, 400, "invalid_push_token"},
		{`{"platform":"apns","token":"` + hex(200) + `"}`, 201, ""},
		{`{"platform":"apns","token":"` + hex(201) + `"}`, 400, "invalid_push_token"},
		{`{"platform":"apns","token":"` + hex(63) + `z"}`, 400, "invalid_push_token"},
		{`{"platform":"fcm","token":"` + strings.Repeat("x", 4096) + `"}`, 201, ""},
		{`{"platform":"fcm","token":"` + strings.Repeat("y", 4097) + `"}`, 400, "invalid_push_token"},
		{`{"platform":"fcm","token":"with space"}`, 400, "invalid_push_token"},
		{`{"platform":"fcm","token":"ok","app":"` + strings.Repeat("a", 255) + `"}`, 201, ""},
		{`{"platform":"fcm","token":"ok2","app":"` + strings.Repeat("a", 256) + `"}`, 400, "invalid_app"},
		{`{"platform":"fcm","token":"ok3","app":"com/evil"}`, 400, "invalid_app"},
		{`{"platform":"webpush","token":"x"}`, 400, "validation_failed"},
		{`{"platform":"APNS","token":"` + hex(64) + `"}`, 400, "validation_failed"},
		{`{"platform":"fcm"}`, 400, "validation_failed"},
		{`{"token":"x"}`, 400, "validation_failed"},
		{`{"platform":"fcm","token":"x","extra":1}`, 400, "invalid_json"},
		{`{"platform":"fcm","token":"x","Token":"y"}`, 400, "key_case_mismatch"},
		{`{"platform":"fcm","token":"x","token":"y"}`, 400, "duplicate_key"},
		{`{"platform":"fcm","token":"` + strings.Repeat("z", push.DefaultMaxBody) + `"}`, 413, "body_too_large"},
		{``, 400, "invalid_json"},
	} {
		a.expect(alice, "POST", "/devices", tc.body, tc.status, tc.code)
	}
}

func TestHandlerAuthorization(t *testing.T) {
	a := newAPITest(t, push.MemoryRegistryConfig{})
	body := `{"platform":"fcm","token":"t"}`
	a.expect(nil, "GET", "/devices", "", 401, "unauthorized")
	admin := &auth.Claims{Subject: "api-client", Account: "a", Grants: auth.Grants{Admin: true}}
	a.expect(admin, "POST", "/devices", body, 403, "forbidden")
	a.expect(admin, "GET", "/devices", "", 403, "forbidden")
	noIncoming := &auth.Claims{Subject: "alice", Account: "a", Grants: auth.Grants{Outgoing: true}}
	a.expect(noIncoming, "POST", "/devices", body, 403, "forbidden")
	a.expect(noIncoming, "GET", "/devices", "", 200, "")
	badIdentity := &auth.Claims{Subject: "a b", Account: "a", Grants: auth.Grants{Incoming: true}}
	a.expect(badIdentity, "POST", "/devices", body, 403, "forbidden")
	noAccount := &auth.Claims{Subject: "alice", Grants: auth.Grants{Incoming: true}}
	a.expect(noAccount, "POST", "/devices", body, 403, "forbidden")
	a.expect(user("a", "alice"), "GET", "/nothing", "", 404, "route_not_found")
	a.expect(user("a", "alice"), "PUT", "/devices", "", 405, "method_not_allowed")
}

// Through the real middleware with a user token minted by auth, as a host
// mounts it under /v1.
func TestHandlerBehindAuthMiddleware(t *testing.T) {
	key, err := auth.GenerateKey(auth.ES256)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeySet(auth.KeySetConfig{Current: key})
	if err != nil {
		t.Fatal(err)
	}
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	h, _ := push.NewHandler(push.HandlerConfig{Registry: push.NewMemoryRegistry(push.MemoryRegistryConfig{})})
	mux := http.NewServeMux()
	mux.Handle("/v1/devices", http.StripPrefix("/v1", auth.Middleware(ver)(h)))
	mux.Handle("/v1/devices/", http.StripPrefix("/v1", auth.Middleware(ver)(h)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tok, _, err := iss.Mint(ctx, auth.TokenRequest{Identity: "alice", Account: "acct-1", Capabilities: []string{"client.incoming?identity=alice"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/devices", strings.NewReader(`{"platform":"fcm","token":"tok-1"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var d push.Device
	_ = json.NewDecoder(res.Body).Decode(&d)
	res.Body.Close()
	if res.StatusCode != 201 || d.Identity != "alice" || d.Token != "tok-1" {
		t.Fatalf("%d %+v", res.StatusCode, d)
	}
	res, err = http.Get(srv.URL + "/v1/devices")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("without a token: %d", res.StatusCode)
	}
}

// HTTPStatus maps this package's errors, the admission refusals of auth,
// and says nothing about anything else.
func TestHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("remove: %w", push.ErrDeviceNotFound), 404, "device_not_found"},
		{push.ErrTooManyDevices, 409, "too_many_devices"},
		{push.ErrRegistryFull, 503, "registry_full"},
		{push.ErrInvalidPushToken, 400, "invalid_push_token"},
		{push.ErrInvalidApp, 400, "invalid_app"},
		{push.ErrInvalidPlatform, 400, "validation_failed"},
		{auth.ErrNoCredentials, 401, "unauthorized"},
		{auth.ErrMissingGrant, 403, "forbidden"},
		{errors.New("disk on fire at /secret/path"), 500, "internal_error"},
	} {
		status, code, msg := push.HTTPStatus(tc.err)
		if status != tc.status || code != tc.code || strings.Contains(msg, "secret") {
			t.Errorf("%v: %d %s %q, want %d %s", tc.err, status, code, msg, tc.status, tc.code)
		}
	}
}
