package calling_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// Mount the signaling server, join a room with the Go client, and
// broadcast to everyone in it over the data channel.
func ExampleServer() {
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	mgr, _ := rooms.NewManager(rooms.Config{})
	srv, err := calling.New(calling.Config{Rooms: mgr, Verifier: ver,
		Media: calling.MediaConfig{ICEIPs: []string{"127.0.0.1"}}}) // keep media on loopback
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	mux := http.NewServeMux()
	mux.Handle("/v1/signal", srv)
	hs := httptest.NewServer(mux)
	defer hs.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, _, _ := iss.Mint(ctx, auth.TokenRequest{Identity: "alice", Account: "acct", Grants: auth.Grants{Rooms: []string{"lobby"}, Data: true}})
	api, _ := client.NewAPI("127.0.0.1")
	c, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/signal", Token: tok, API: api})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	joined, err := c.Join(ctx, client.JoinRequest{Room: "lobby"})
	if err != nil {
		panic(err)
	}
	<-c.DataChannelOpen()
	n, _ := srv.Broadcast(ctx, "acct", joined.SessionID, "welcome")
	msg := <-c.Data()
	fmt.Println(n, msg.Type, msg.Text)
	// Output: 1 broadcast welcome
}
