package recording

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/clocktest"
)

var (
	adminA = &auth.Claims{Subject: "api", Account: "A", Grants: auth.Grants{Admin: true}}
	adminB = &auth.Claims{Subject: "api", Account: "B", Grants: auth.Grants{Admin: true}}
	userA  = &auth.Claims{Subject: "alice", Account: "A"}
)

func do(h http.Handler, c *auth.Claims, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	if c != nil {
		r = r.WithContext(auth.NewContext(r.Context(), c))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func expect(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status || code != "" && !strings.Contains(w.Body.String(), `"code":"`+code+`"`) {
		t.Fatalf("%d %s, want %d %s", w.Code, w.Body, status, code)
	}
}

// seedMedia stores a finished recording in st with a real file of its format.
func seedMedia(t *testing.T, st *FileStorage, r *Recording) *Recording {
	t.Helper()
	var buf bytes.Buffer
	if r.Format == FormatWebM {
		path := filepath.Join(t.TempDir(), "m.webm")
		f, _ := os.Create(path)
		c, err := newWebMContainer(f, time.Now(), func(string, int64) {})
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range tone(t, 10, 440) {
			_ = c.writeAudio(int64(i*960), p, 0)
		}
		_ = c.close()
		f.Close()
		b, _ := os.ReadFile(path)
		buf.Write(b)
	} else {
		w, _ := NewOggWriter(&buf, OggOptions{})
		for i, p := range tone(t, 10, 440) {
			_ = w.WritePacket(int64(i*960), p)
		}
		_ = w.Close()
	}
	return seed(t, st, r, buf.String())
}

// seed stores a finished recording with content in st.
func seed(t *testing.T, st *FileStorage, r *Recording, content string) *Recording {
	t.Helper()
	if r.ID == "" {
		r.ID = newID()
	}
	r.Format = cmp.Or(r.Format, FormatOgg)
	r.Type = cmp.Or(r.Type, TypeAudio)
	r.Status = cmp.Or(r.Status, StatusCompleted)
	f, err := st.Create(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(f, content)
	f.Close()
	r.Bytes = int64(len(content))
	if err := st.Save(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

type fakeController struct {
	mu       sync.Mutex
	calls    []string
	err      error
	recorded Type // what Start says it records; empty: what was asked
}

func (f *fakeController) Start(_ context.Context, t Target, typ Type) (Type, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("start %s %s %s %s", t.Account, t.CallID, t.SessionID, typ))
	if f.err != nil {
		return "", f.err
	}
	return cmp.Or(f.recorded, typ), nil
}

func (f *fakeController) Stop(_ context.Context, t Target) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("stop %s %s %s", t.Account, t.CallID, t.SessionID))
	return f.err
}

func TestHandlerListFilterPaginate(t *testing.T) {
	st, _ := NewFileStorage(t.TempDir())
	h, _ := NewHandler(HandlerConfig{Storage: st})
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var mine []*Recording
	for i := range 7 {
		r := &Recording{Account: "A", StartedAt: t0.Add(time.Duration(i/2) * time.Minute), Identity: []string{"alice", "bob"}[i%2]}
		if i < 4 {
			r.SessionID = "s-1"
		} else {
			r.CallID = "c-1"
		}
		mine = append(mine, seedMedia(t, st, r))
	}
	seedMedia(t, st, &Recording{Account: "B", SessionID: "s-1", StartedAt: t0})

	list := func(q string) listBody {
		t.Helper()
		w := do(h, adminA, "GET", "/recordings"+q, "")
		expect(t, w, 200, "")
		var b listBody
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if b := list(""); len(b.Recordings) != 7 || b.NextCursor != "" {
		t.Fatalf("all: %d %q", len(b.Recordings), b.NextCursor)
	}
	for q, n := range map[string]int{
		"?sessionId=s-1": 4, "?callId=c-1": 3, "?identity=alice": 4, "?identity=bob&sessionId=s-1": 2,
		"?from=" + t0.Add(time.Minute).Format(time.RFC3339): 5, "?to=" + t0.Add(time.Minute).Format(time.RFC3339): 2,
		"?from=" + t0.Add(time.Minute).Format(time.RFC3339) + "&to=" + t0.Add(2*time.Minute).Format(time.RFC3339): 2,
		"?callId=nope": 0,
	} {
		if b := list(q); len(b.Recordings) != n {
			t.Errorf("%s: %d recordings, want %d", q, len(b.Recordings), n)
		}
	}
	// Pages of 2, newest first, each recording once; the cursor is opaque.
	seen := map[string]bool{}
	var prev *Recording
	q := "?limit=2"
	for pages := 0; ; pages++ {
		b := list(q)
		for _, r := range b.Recordings {
			if seen[r.ID] || prev != nil && newer(prev, r) >= 0 {
				t.Fatalf("order or repeat at %s", r.ID)
			}
			seen[r.ID], prev = true, r
		}
		if b.NextCursor == "" {
			if pages != 3 || len(seen) != 7 {
				t.Fatalf("%d pages, %d recordings", pages+1, len(seen))
			}
			break
		}
		q = "?limit=2&cursor=" + b.NextCursor
	}
	if b := list("?limit=7"); len(b.Recordings) != 7 || b.NextCursor != "" {
		t.Fatal("a page exactly as long as the list has no cursor")
	}
	if b := list("?limit=100"); len(b.Recordings) != 7 {
		t.Fatal("limit 100")
	}
	expect(t, do(h, adminA, "GET", "/recordings?limit=101", ""), 400, "invalid_request")
	expect(t, do(h, adminA, "GET", "/recordings?limit=0", ""), 400, "invalid_request")
	expect(t, do(h, adminA, "GET", "/recordings?cursor=bm9wZQ", ""), 400, "invalid_request")
	expect(t, do(h, adminA, "GET", "/recordings?from=yesterday", ""), 400, "invalid_request")
	// The other account sees only its own.
	w := do(h, adminB, "GET", "/recordings", "")
	if !strings.Contains(w.Body.String(), `"sessionId":"s-1"`) || strings.Count(w.Body.String(), `"id":`) != 1 {
		t.Fatalf("B: %s", w.Body)
	}
	if strings.Contains(w.Body.String(), `"account"`) {
		t.Fatal("the account is not shown")
	}
	expect(t, do(h, userA, "GET", "/recordings", ""), 403, "forbidden")
	expect(t, do(h, nil, "GET", "/recordings", ""), 403, "forbidden")
	_ = mine
}

func TestHandlerGetMediaDelete(t *testing.T) {
	st, _ := NewFileStorage(t.TempDir())
	h, _ := NewHandler(HandlerConfig{Storage: st})
	a := seedMedia(t, st, &Recording{Account: "A", CallID: "c", StartedAt: time.Now()})
	v := seedMedia(t, st, &Recording{Account: "A", CallID: "c", StartedAt: time.Now(), Format: FormatWebM, Type: TypeAudioAndVideo})
	live := seedMedia(t, st, &Recording{Account: "A", CallID: "c", StartedAt: time.Now(), Status: StatusRecording})
	content := fileContent(t, st.mediaPath(a))
	for _, r := range []*Recording{a, v} {
		checkPlayable(t, st.mediaPath(r))
	}

	w := do(h, adminA, "GET", "/recordings/"+a.ID, "")
	expect(t, w, 200, "")
	var got Recording
	_ = json.Unmarshal(w.Body.Bytes(), &got)
	if got.ID != a.ID || got.Bytes != int64(len(content)) || got.Status != StatusCompleted || got.Format != FormatOgg {
		t.Fatalf("%+v", got)
	}
	expect(t, do(h, adminB, "GET", "/recordings/"+a.ID, ""), 404, "recording_not_found")
	expect(t, do(h, adminA, "GET", "/recordings/r-nothere", ""), 404, "recording_not_found")
	expect(t, do(h, adminA, "GET", "/recordings/..%2F..%2Fetc", ""), 404, "")

	w = do(h, adminA, "GET", "/recordings/"+a.ID+"/media", "")
	expect(t, w, 200, "")
	if w.Header().Get("Content-Type") != "audio/ogg" || w.Body.String() != content {
		t.Fatalf("media: %s %d bytes", w.Header().Get("Content-Type"), w.Body.Len())
	}
	w = do(h, adminA, "GET", "/recordings/"+a.ID+"/media", "", "Range", "bytes=10-19")
	if w.Code != 206 || w.Body.String() != content[10:20] || w.Header().Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(content)) {
		t.Fatalf("range: %d %q %s", w.Code, w.Body, w.Header().Get("Content-Range"))
	}
	w = do(h, adminA, "GET", "/recordings/"+v.ID+"/media", "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "video/webm" {
		t.Fatalf("webm: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	expect(t, do(h, adminB, "GET", "/recordings/"+a.ID+"/media", ""), 404, "recording_not_found")

	expect(t, do(h, adminB, "DELETE", "/recordings/"+a.ID, ""), 404, "recording_not_found")
	expect(t, do(h, adminA, "DELETE", "/recordings/"+live.ID, ""), 409, "recording_active")
	expect(t, do(h, adminA, "DELETE", "/recordings/"+a.ID, ""), 204, "")
	for _, p := range []string{st.mediaPath(a), st.Dir() + "/" + a.ID + ".json"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s still there: %v", p, err)
		}
	}
	expect(t, do(h, adminA, "GET", "/recordings/"+a.ID, ""), 404, "recording_not_found")
	expect(t, do(h, adminA, "DELETE", "/recordings/"+a.ID, ""), 404, "recording_not_found")
	// A restarted storage agrees.
	st2, _ := NewFileStorage(st.Dir())
	if l, _ := st2.List(context.Background(), Filter{Account: "A"}); len(l) != 2 {
		t.Fatalf("after restart: %d", len(l))
	}
	expect(t, do(h, adminA, "GET", "/nothing", ""), 404, "route_not_found")
	expect(t, do(h, adminA, "PUT", "/recordings/"+v.ID, ""), 405, "method_not_allowed")
}

func TestHandlerOnDemand(t *testing.T) {
	st, _ := NewFileStorage(t.TempDir())
	fc := &fakeController{}
	h, _ := NewHandler(HandlerConfig{Storage: st, Controller: fc})
	w := do(h, adminA, "POST", "/recordings", `{"callId":"c-9","type":"AUDIO"}`)
	expect(t, w, 201, "")
	if strings.TrimSpace(w.Body.String()) != `{"callId":"c-9","type":"AUDIO"}` {
		t.Fatalf("body %s", w.Body)
	}
	expect(t, do(h, adminA, "POST", "/recordings", `{"sessionId":"s-9","type":"AUDIO_AND_VIDEO"}`), 201, "")
	fc.recorded = TypeAudio // the account setting lowers the request: the answer says so
	if w := do(h, adminA, "POST", "/recordings", `{"sessionId":"s-8","type":"AUDIO_AND_VIDEO"}`); strings.TrimSpace(w.Body.String()) != `{"sessionId":"s-8","type":"AUDIO"}` {
		t.Fatalf("lowered: %d %s", w.Code, w.Body)
	}
	fc.recorded = ""
	expect(t, do(h, adminA, "DELETE", "/recordings/active/calls/c-9", ""), 204, "")
	expect(t, do(h, adminB, "DELETE", "/recordings/active/sessions/s-9", ""), 204, "")
	want := []string{"start A c-9  AUDIO", "start A  s-9 AUDIO_AND_VIDEO", "start A  s-8 AUDIO_AND_VIDEO", "stop A c-9 ", "stop B  s-9"}
	if fmt.Sprint(fc.calls) != fmt.Sprint(want) {
		t.Fatalf("calls %q", fc.calls)
	}
	for _, body := range []string{
		`{"callId":"c","sessionId":"s","type":"AUDIO"}`, `{"type":"AUDIO"}`,
	} {
		expect(t, do(h, adminA, "POST", "/recordings", body), 400, "invalid_request")
	}
	for _, body := range []string{`{"callId":"c","type":"NONE"}`, `{"callId":"c"}`, `{"callId":"` + strings.Repeat("c", 129) + `","type":"AUDIO"}`} {
		expect(t, do(h, adminA, "POST", "/recordings", body), 400, "validation_failed")
	}
	expect(t, do(h, adminA, "POST", "/recordings", `{"callId":"`+strings.Repeat("c", 128)+`","type":"AUDIO"}`), 201, "")
	expect(t, do(h, adminA, "POST", "/recordings", `{"callId":"c","type":"AUDIO","x":1}`), 400, "invalid_json")
	expect(t, do(h, userA, "POST", "/recordings", `{"callId":"c","type":"AUDIO"}`), 403, "forbidden")
	for err, want := range map[error]string{
		&PolicyError{Reason: ReasonNotTriggered}: "403 recording_not_permitted",
		ErrTargetNotFound:                        "404 target_not_found",
		ErrAlreadyRecording:                      "409 already_recording",
		errors.New("boom"):                       "500 internal_error",
	} {
		fc.err = err
		w := do(h, adminA, "POST", "/recordings", `{"callId":"c","type":"AUDIO"}`)
		var status int
		var code string
		_, _ = fmt.Sscanf(want, "%d %s", &status, &code)
		expect(t, w, status, code)
	}
	fc.err = ErrNotRecording
	expect(t, do(h, adminA, "DELETE", "/recordings/active/calls/c", ""), 404, "not_recording")
	// Without a controller, on demand is 501.
	h2, _ := NewHandler(HandlerConfig{Storage: st})
	expect(t, do(h2, adminA, "POST", "/recordings", `{"callId":"c","type":"AUDIO"}`), 501, "not_implemented")
	expect(t, do(h2, adminA, "DELETE", "/recordings/active/calls/c", ""), 501, "not_implemented")
	if _, err := NewHandler(HandlerConfig{}); err == nil {
		t.Fatal("no storage")
	}
}

// The sweeper deletes what ended more than the retention ago, never a
// recording in progress, and Run stops with its context.
func TestSweeper(t *testing.T) {
	st, _ := NewFileStorage(t.TempDir())
	clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	now := clk.Now()
	ended := func(d time.Duration) *time.Time { e := now.Add(-d); return &e }
	old := seedMedia(t, st, &Recording{Account: "A", CallID: "c", StartedAt: now.Add(-31 * 24 * time.Hour), EndedAt: ended(30*24*time.Hour + time.Second)})
	atLimit := seedMedia(t, st, &Recording{Account: "B", CallID: "c", StartedAt: now.Add(-31 * 24 * time.Hour), EndedAt: ended(30 * 24 * time.Hour)})
	young := seedMedia(t, st, &Recording{Account: "A", CallID: "c", StartedAt: now.Add(-time.Hour), EndedAt: ended(time.Minute)})
	live := seedMedia(t, st, &Recording{Account: "A", CallID: "c", StartedAt: now.Add(-40 * 24 * time.Hour), Status: StatusRecording})
	failed := seedMedia(t, st, &Recording{Account: "A", CallID: "c", StartedAt: now.Add(-40 * 24 * time.Hour), Status: StatusFailed})
	s, err := NewSweeper(SweeperConfig{Storage: st, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ids := func() map[string]bool {
		l, _ := st.List(context.Background(), Filter{AnyAccount: true})
		m := map[string]bool{}
		for _, r := range l {
			m[r.ID] = true
		}
		return m
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "the first sweep", func() bool { return !ids()[old.ID] })
	if m := ids(); m[failed.ID] || !m[atLimit.ID] || !m[young.ID] || !m[live.ID] {
		t.Fatalf("after the first sweep: %v", m)
	}
	// An hour later the one at the limit is past it.
	waitFor(t, "the timer", func() bool { return clk.Pending() == 1 })
	clk.Advance(time.Hour)
	waitFor(t, "the second sweep", func() bool { return !ids()[atLimit.ID] })
	if m := ids(); !m[young.ID] || !m[live.ID] {
		t.Fatalf("after the second sweep: %v", m)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if clk.Pending() != 0 {
		t.Fatal("Run left a timer")
	}
	if _, err := NewSweeper(SweeperConfig{}); err == nil {
		t.Fatal("no storage")
	}
}

func fileContent(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
