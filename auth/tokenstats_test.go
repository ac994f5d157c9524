package auth_test

import (
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
)

// The token endpoint counts the tokens it issues and the requests it
// refuses by error code, the 429s of a blocked address apart.
func TestTokenHandlerStats(t *testing.T) {
	f := newFixture(t, auth.ES256)
	ok := tokenCall{contentType: form, body: "grant_type=client_credentials", user: testClientID, pass: testSecret, basic: true}
	bad := ok
	bad.pass = "wrong"
	for range 2 {
		if w := f.call(ok); w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
	}
	if w := f.call(bad); w.Code != 401 {
		t.Fatalf("status %d", w.Code)
	}
	st := f.handler.Stats()
	if st.Issued != 2 || len(st.Refused) != 1 || st.Refused["invalid_client"] != 1 {
		t.Fatalf("stats %+v, want 2 issued, 1 invalid_client", st)
	}
	// Failures up to the limit, then the address is blocked: 429s, even
	// for the right secret.
	n429 := 0
	for range auth.DefaultMaxFailures + 2 {
		if f.call(bad).Code == 429 {
			n429++
		}
	}
	if w := f.call(ok); w.Code != 429 {
		t.Fatalf("a blocked address got %d", w.Code)
	}
	st = f.handler.Stats()
	if n429 == 0 || st.Refused[auth.RefusedRateLimited] != uint64(n429+1) || st.Issued != 2 ||
		st.Refused["invalid_client"]+st.Refused[auth.RefusedRateLimited] != uint64(auth.DefaultMaxFailures+2+2) {
		t.Fatalf("stats %+v after %d answers 429 and one blocked success", st, n429)
	}
	st.Refused["invalid_client"] = 99 // a copy
	if f.handler.Stats().Refused["invalid_client"] == 99 {
		t.Fatal("Stats shares its map")
	}
}
