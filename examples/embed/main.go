// Command embed shows Switchboard mounted inside a host's existing server,
// behind the host's own login: the host keeps its routes and sessions,
// mints Switchboard user tokens for its logged-in users, and mounts the
// signaling endpoint and the REST API under a prefix of its choosing.
//
//	go run ./examples/embed            # http://127.0.0.1:8090
//
// See README.md beside this file.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/rooms"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "address to listen on")
	iceIP := flag.String("ice-ip", "", "restrict ICE candidates to this address (e.g. 127.0.0.1)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	h, closeFn, err := newHost(*iceIP)
	if err != nil {
		log.Fatal(err)
	}
	defer closeFn()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("host app on http://%s (login: POST /login {\"user\":\"alice\"})\n", ln.Addr())
	// Every timeout set (the signaling WebSocket outlives them once upgraded).
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// newHost builds the host's server: its own login and pages, with
// Switchboard mounted under /rtc.
func newHost(iceIP string) (http.Handler, func(), error) {
	cookieKey := make([]byte, 32)
	if _, err := rand.Read(cookieKey); err != nil {
		return nil, nil, err
	}

	// Switchboard, composed from its packages.
	key, err := auth.GenerateKey(auth.ES256)
	if err != nil {
		return nil, nil, err
	}
	keys, err := auth.NewKeySet(auth.KeySetConfig{Current: key})
	if err != nil {
		return nil, nil, err
	}
	issuer, err := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	if err != nil {
		return nil, nil, err
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	if err != nil {
		return nil, nil, err
	}
	mgr, err := rooms.NewManager(rooms.Config{})
	if err != nil {
		return nil, nil, err
	}
	media := calling.MediaConfig{}
	if iceIP != "" {
		media.ICEIPs = []string{iceIP}
	}
	sfu, err := calling.New(calling.Config{Rooms: mgr, Verifier: verifier, Media: media})
	if err != nil {
		return nil, nil, err
	}
	roomsAPI, err := rooms.NewHandler(rooms.HandlerConfig{Manager: mgr, Issuer: issuer, Broadcaster: sfu})
	if err != nil {
		_ = sfu.Close()
		return nil, nil, err
	}

	mux := http.NewServeMux()
	// The host's own routes.
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ User string }
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil || !auth.ValidIdentity(req.User) {
			http.Error(w, "bad login", http.StatusBadRequest)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: signCookie(cookieKey, req.User), Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		w.WriteHeader(http.StatusNoContent)
	})
	// Switchboard, behind the host's login: a logged-in user gets a user token.
	mux.HandleFunc("GET /rtc/token", func(w http.ResponseWriter, r *http.Request) {
		user, ok := loggedIn(cookieKey, r)
		if !ok {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		tok, c, err := issuer.Mint(r.Context(), auth.TokenRequest{Identity: user, Account: "host-app",
			Grants: auth.Grants{Outgoing: true, Incoming: true, Rooms: []string{"*"}, Publish: []auth.Media{auth.MediaAudio, auth.MediaVideo}, Data: true}})
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "expiresAt": c.Expiry, "signal": "/rtc/signal"})
	})
	mux.Handle("/rtc/signal", sfu)
	// The REST API for the host's admins (here, any logged-in user named
	// "admin"): each handler on the subtrees it owns, with /rtc/v1 stripped,
	// since its paths are relative to the API root.
	for name, h := range map[string]http.Handler{"sessions": roomsAPI, "participants": roomsAPI, "calls": sfu.CallsHandler()} {
		h = adminOnly(cookieKey, http.StripPrefix("/rtc/v1", h))
		mux.Handle("/rtc/v1/"+name, h)
		mux.Handle("/rtc/v1/"+name+"/", h)
	}
	mux.Handle("/rtc/v1/", adminOnly(cookieKey, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"code":"route_not_found","message":"no such route"}` + "\n"))
	})))
	return mux, func() { _ = sfu.Close() }, nil
}

// adminOnly lets the host's own admin session through, as an admin of the
// host's account (the claims the rooms handler scopes by).
func adminOnly(key []byte, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, ok := loggedIn(key, r); !ok || user != "admin" {
			http.Error(w, "admins only", http.StatusForbidden)
			return
		}
		claims := &auth.Claims{Subject: "admin", Account: "host-app", Grants: auth.Grants{Admin: true}}
		next.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), claims)))
	})
}

func signCookie(key []byte, user string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(user))
	return user + "." + hex.EncodeToString(m.Sum(nil))
}

func loggedIn(key []byte, r *http.Request) (string, bool) {
	c, err := r.Cookie("session")
	if err != nil {
		return "", false
	}
	user, _, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(c.Value), []byte(signCookie(key, user))) {
		return "", false
	}
	return user, true
}
