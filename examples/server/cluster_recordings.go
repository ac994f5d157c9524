package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
	"github.com/switchboard-rtc/switchboard/recording"
)

// hdrLocal asks a node for its own recordings only (the node a client
// asked gathers the others' with it).
const hdrLocal = "Switchboard-Local"

// clusterRecordings serves the recordings API of a node of a cluster: each
// node keeps the recordings it wrote (their media is on its disk), so a
// listing gathers every live node's, and a recording this node does not
// have is served by the node that has it. The client's own credentials go
// with each request, and every node checks them. POST /recordings and the
// active recordings are this node's (calling sends them on to the node
// serving the room or call).
type clusterRecordings struct {
	local  http.Handler // this node's recordings API, under /v1, behind the admin check
	nodes  *redis.Nodes
	client *http.Client
	log    *slog.Logger
}

func newClusterRecordings(local http.Handler, nodes *redis.Nodes, log *slog.Logger) http.Handler {
	if nodes == nil {
		return local
	}
	return &clusterRecordings{local: local, nodes: nodes, log: log, client: &http.Client{Timeout: 30 * time.Second}}
}

func (h *clusterRecordings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v1/recordings")
	id, sub, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case r.Header.Get(hdrLocal) != "":
		h.local.ServeHTTP(w, r)
	case r.Method == http.MethodGet && (rest == "" || rest == "/"):
		h.list(w, r)
	case id != "" && id != "active" && (sub == "" || sub == "media"):
		h.one(w, r, id)
	default:
		h.local.ServeHTTP(w, r)
	}
}

// others returns the base URLs of the other live nodes (a node's URL is
// its signaling endpoint's, <base>/v1/signal).
func (h *clusterRecordings) others(ctx context.Context) ([]string, error) {
	live, err := h.nodes.Live(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range live {
		if n.ID != h.nodes.ID() && n.Addr != "" {
			out = append(out, strings.TrimSuffix(n.Addr, "/v1/signal"))
		}
	}
	return out, nil
}

// ask sends the client's request, for this node's recordings only, to the
// node at base.
func (h *clusterRecordings) ask(ctx context.Context, r *http.Request, base, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	req.Header.Set(hdrLocal, "1")
	return h.client.Do(req)
}

// localAnswer serves a GET of path here, to memory (a small JSON answer).
func (h *clusterRecordings) localAnswer(r *http.Request, path string) *httptest.ResponseRecorder {
	req := r.Clone(r.Context())
	req.Method, req.Body, req.ContentLength = http.MethodGet, http.NoBody, 0
	req.URL = &url.URL{Path: path}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		req.URL.Path, req.URL.RawQuery = path[:i], path[i+1:]
	}
	req.RequestURI = path
	req.Header.Set(hdrLocal, "1")
	rec := httptest.NewRecorder()
	h.local.ServeHTTP(rec, req)
	return rec
}

// one serves a recording (or its media, or its deletion) from the node
// that has it: this one, or the first other live node that does.
func (h *clusterRecordings) one(w http.ResponseWriter, r *http.Request, id string) {
	probe := "/v1/recordings/" + url.PathEscape(id)
	if h.localAnswer(r, probe).Code != http.StatusNotFound {
		h.local.ServeHTTP(w, r) // here, or refused (401, 403) as it would be anyway
		return
	}
	bases, err := h.others(r.Context())
	if err != nil {
		writeJSONError(w, http.StatusServiceUnavailable, "store_unavailable", "the shared store is unavailable; retry")
		return
	}
	for _, base := range bases {
		res, err := h.ask(r.Context(), r, base, probe)
		if err != nil {
			continue // that node is gone, and its recordings with it for now
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			continue
		}
		target, err := url.Parse(base)
		if err != nil {
			continue
		}
		proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(hdrLocal, "1")
		}}
		proxy.ServeHTTP(w, r)
		return
	}
	h.local.ServeHTTP(w, r) // nobody has it: this node's 404
}

// list gathers the page the client asked for from every live node: each
// answers with its own page after the same cursor, merged in the API's
// order; the next cursor continues on every node.
func (h *clusterRecordings) list(w http.ResponseWriter, r *http.Request) {
	here := h.localAnswer(r, r.URL.RequestURI())
	if here.Code != http.StatusOK {
		for k, v := range here.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(here.Code)
		_, _ = w.Write(here.Body.Bytes())
		return
	}
	type page struct {
		Recordings []*recording.Recording `json:"recordings"`
		NextCursor string                 `json:"nextCursor,omitempty"`
	}
	var all page
	if err := json.Unmarshal(here.Body.Bytes(), &all); err != nil {
		writeJSONError(w, http.StatusInternalServerError, "internal_error", "internal error")
		return
	}
	more := all.NextCursor != ""
	bases, err := h.others(r.Context())
	if err != nil {
		writeJSONError(w, http.StatusServiceUnavailable, "store_unavailable", "the shared store is unavailable; retry")
		return
	}
	for _, base := range bases {
		res, err := h.ask(r.Context(), r, base, r.URL.RequestURI())
		if err != nil {
			h.log.Warn("listing another node's recordings", "node", base, "err", err)
			writeJSONError(w, http.StatusServiceUnavailable, "node_unreachable", "a node holding recordings could not be reached; retry")
			return
		}
		var p page
		err = json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(&p)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || err != nil {
			writeJSONError(w, http.StatusServiceUnavailable, "node_unreachable", "a node holding recordings answered "+strconv.Itoa(res.StatusCode)+"; retry")
			return
		}
		all.Recordings = append(all.Recordings, p.Recordings...)
		more = more || p.NextCursor != ""
	}
	slices.SortFunc(all.Recordings, recording.CompareNewest)
	limit := 50 // the API's default page
	if v := r.URL.Query().Get("limit"); v != "" {
		limit, _ = strconv.Atoi(v) // checked by this node's answer above
	}
	all.NextCursor = ""
	if len(all.Recordings) > limit {
		all.Recordings, more = all.Recordings[:limit], true
	}
	if more && len(all.Recordings) > 0 {
		all.NextCursor = recording.ListCursor(all.Recordings[len(all.Recordings)-1])
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(all)
}
