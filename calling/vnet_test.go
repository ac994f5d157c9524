package calling_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/transport/v4/vnet"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/internal/codecs"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// vnetAPI is a pion API on router's simulated network at ip: the SFU's
// media setup, or a client's (default interceptors: it NACKs what it
// misses). With delay, the peer's inbound traffic goes through a delay
// filter (no delay until the test sets one), stored in *delay.
func vnetAPI(t *testing.T, router *vnet.Router, ip string, sfu bool, delay **vnet.DelayFilter) *webrtc.API {
	t.Helper()
	nw, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
	if err != nil {
		t.Fatal(err)
	}
	var nic vnet.NIC = nw
	if delay != nil {
		df, err := vnet.NewDelayFilter(nw, vnet.WithDelay(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = df.Close() })
		*delay, nic = df, df
	}
	if err := router.AddNet(nic); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetNet(nw)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(5*time.Second, 10*time.Second, 200*time.Millisecond)
	me, ir := &webrtc.MediaEngine{}, &interceptor.Registry{}
	if sfu {
		err = calling.RegisterMedia(me, ir)
	} else if err = codecs.Register(me); err == nil {
		err = webrtc.RegisterDefaultInterceptors(me, ir)
	}
	if err != nil {
		t.Fatal(err)
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir))
}

// Every 5th video packet from the SFU to bob is lost on a simulated network;
// bob NACKs, the SFU answers from the track's shared retransmission cache,
// and bob ends up with every packet.
func TestNACKRecoversLossFromSharedCache(t *testing.T) {
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "1.2.3.0/24", LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	const sfuIP, aliceIP, bobIP = "1.2.3.1", "1.2.3.2", "1.2.3.3"
	sfuAPI, aliceAPI, bobAPI := vnetAPI(t, router, sfuIP, true, nil), vnetAPI(t, router, aliceIP, false, nil), vnetAPI(t, router, bobIP, false, nil)
	var toBob, dropped atomic.Uint32
	router.AddChunkFilter(func(c vnet.Chunk) bool {
		if !strings.HasPrefix(c.DestinationAddr().String(), bobIP+":") {
			return true
		}
		var h rtp.Header
		if _, err := h.Unmarshal(c.UserData()); err != nil || h.PayloadType < 96 || h.PayloadType > 127 || len(c.UserData()) < 100 {
			return true // not forwarded video (STUN, DTLS, RTCP, audio)
		}
		if toBob.Add(1)%5 == 0 {
			dropped.Add(1)
			return false
		}
		return true
	})
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = router.Stop() }()

	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	mgr, _ := rooms.NewManager(rooms.Config{})
	srv, err := calling.New(calling.Config{Rooms: mgr, Verifier: ver, API: sfuAPI})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv) // signaling over real loopback TCP; media on the vnet
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(name string, api *webrtc.API) *client.Client {
		tok, _, _ := iss.Mint(ctx, auth.TokenRequest{Identity: name, Account: "a", Grants: roomGrants})
		c, err := client.Dial(ctx, client.Config{URL: url, Token: tok, API: api, HTTPClient: http.DefaultClient})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	alice, bob := dial("alice", aliceAPI), dial("bob", bobAPI)
	cam, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "cam", "alice")
	_ = alice.Publish(rooms.AliasCamera, cam)
	ja, err := alice.Join(ctx, client.JoinRequest{Room: "lossy"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, client.JoinRequest{Room: "lossy"}); err != nil {
		t.Fatal(err)
	}
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	payload := make([]byte, 400) // a VP8 interframe-sized payload
	payload[0] = 0x10
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(1); ; seq++ {
			select {
			case <-sendCtx.Done():
				return
			case <-tick.C:
				_ = cam.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 900, Marker: true}, Payload: payload})
			}
		}
	}()
	defer wg.Wait()
	defer stop()

	tr := waitTrack(t, bob, ja.ParticipantID)
	// Collect 300 packets' worth of sequence numbers after the first one.
	seen := map[uint16]bool{}
	var first uint16
	for len(seen) < 300 {
		_ = tr.SetReadDeadline(time.Now().Add(5 * time.Second))
		p, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatalf("after %d packets: %v", len(seen), err)
		}
		if len(seen) == 0 {
			first = p.SequenceNumber
		}
		seen[p.SequenceNumber] = true
	}
	// Every sequence number in the first 200 after the start arrived
	// (originals or retransmissions), although one in five was dropped.
	missing := 0
	for s := first; s != first+200; s++ {
		if !seen[s] {
			missing++
		}
	}
	if dropped.Load() < 40 {
		t.Fatalf("only %d packets dropped; the filter did not act", dropped.Load())
	}
	if missing > 0 {
		t.Fatalf("%d of 200 packets never arrived (dropped %d of %d on the way to bob)", missing, dropped.Load(), toBob.Load())
	}
	t.Logf("dropped %d of %d video packets to bob; all 200 recovered by NACK", dropped.Load(), toBob.Load())
}
