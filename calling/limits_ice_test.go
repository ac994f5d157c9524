package calling_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// recordingConn is the server's UDP socket in these tests: it records every
// destination pion sends to and drops (never sends) anything not on
// loopback, so even a server that obeyed a hostile candidate could not
// reach beyond this machine.
type recordingConn struct {
	net.PacketConn
	mu sync.Mutex
	to []netip.AddrPort
}

func (c *recordingConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("unexpected address %v", addr)
	}
	ap := ua.AddrPort()
	c.mu.Lock()
	c.to = append(c.to, ap)
	c.mu.Unlock()
	if !ap.Addr().Unmap().IsLoopback() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

// sentTo reports whether anything was sent to an address ip.
func (c *recordingConn) sentTo(ip string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ap := range c.to {
		if ap.Addr().Unmap().String() == ip {
			return true
		}
	}
	return false
}

// recordingAPI is the SFU's pion API on loopback, over a recordingConn.
func recordingAPI(t *testing.T) (*webrtc.API, *recordingConn) {
	t.Helper()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rc := &recordingConn{PacketConn: udp}
	mux := webrtc.NewICEUDPMux(nil, rc)
	t.Cleanup(func() { _ = mux.Close() })
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEUDPMux(mux)
	me, ir := &webrtc.MediaEngine{}, &interceptor.Registry{}
	if err := calling.RegisterMedia(me, ir); err != nil {
		t.Fatal(err)
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir)), rc
}

// stunListener is a UDP socket on ip that counts the STUN binding
// requests it receives.
type stunListener struct {
	conn *net.UDPConn
	port int
	mu   sync.Mutex
	n    int
	done chan struct{}
}

func listenSTUN(t *testing.T, ip string) *stunListener {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	l := &stunListener{conn: c, port: c.LocalAddr().(*net.UDPAddr).Port, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		b := make([]byte, 1500)
		for {
			n, _, err := c.ReadFrom(b)
			if err != nil {
				return
			}
			// A STUN message: type 0x0001 (binding request), magic cookie 0x2112A442.
			if n >= 20 && binary.BigEndian.Uint16(b) == 0x0001 && binary.BigEndian.Uint32(b[4:]) == 0x2112A442 {
				l.mu.Lock()
				l.n++
				l.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-l.done })
	return l
}

func (l *stunListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// waitSTUN waits until l has received n binding requests.
func waitSTUN(t *testing.T, l *stunListener, n int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for l.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d STUN requests, want %d", what, l.count(), n)
		}
		time.Sleep(10 * time.Millisecond) // polling what the listener saw
	}
}

func hostCandidate(ip string, port int) string {
	return fmt.Sprintf("candidate:%d 1 udp 2130706431 %s %d typ host", port, ip, port)
}

// joinRaw joins room r on a raw connection and returns the server's offer.
func joinRaw(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	if err := c.Write(ctxT(t, 5*time.Second), websocket.MessageText, []byte(`{"type":"join","id":"j","room":"r"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := readMsg(t, c)
		if err != nil {
			t.Fatal(err)
		}
		switch m.Type {
		case protocol.TypeError:
			t.Fatalf("join: %+v", m.Error)
		case protocol.TypeOffer:
			return m.SDP
		}
	}
}

// answerFor makes an answer to offer with a throwaway pion peer that never
// gathers (no candidates of its own: the test adds the candidates).
func answerFor(t *testing.T, offer string) string {
	t.Helper()
	api, err := client.NewAPI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatal(err)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return ans.SDP
}

func sendJSON(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	if err := c.Write(ctxT(t, 5*time.Second), websocket.MessageText, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func sendCandidate(t *testing.T, c *websocket.Conn, cand string) {
	t.Helper()
	sendJSON(t, c, fmt.Sprintf(`{"type":"candidate","candidate":{"candidate":%q,"sdpMid":"0","sdpMLineIndex":0}}`, cand))
}

// Remote candidates from a client: the server sends STUN only where its
// policy allows. With ICEIPs 127.0.0.1 (the default policy: that address
// only), 127.0.0.2 is outside and gets nothing, in the answer or trickled;
// link-local 169.254.169.254, fe80::1, 10.0.0.5 and an mDNS name never get
// anything. When the configuration allows 127.0.0.2 and even 169.254.0.0/16,
// 127.0.0.2 gets STUN (so the observation works) and 169.254.169.254 still
// does not.
func TestRemoteCandidatePolicy(t *testing.T) {
	for _, tc := range []struct {
		name          string
		networks      []string
		outsideGetsIt bool
	}{
		{"default", nil, false},
		{"configured", []string{"127.0.0.1/32", "127.0.0.2/32", "169.254.0.0/16"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, rec := recordingAPI(t)
			e := newEnv(t, func(c *calling.Config) {
				c.API = api
				c.Limits.CandidateNetworks = tc.networks
			})
			inSDP, inTrickle := listenSTUN(t, "127.0.0.1"), listenSTUN(t, "127.0.0.1")
			outSDP, outTrickle := listenSTUN(t, "127.0.0.2"), listenSTUN(t, "127.0.0.2")
			c := rawDialOK(t, e, e.token("alice", roomGrants))
			answer := answerFor(t, joinRaw(t, c))
			for _, cand := range []string{hostCandidate("127.0.0.1", inSDP.port), hostCandidate("127.0.0.2", outSDP.port),
				hostCandidate("169.254.169.254", 80)} {
				answer += "a=" + cand + "\r\n"
			}
			b, _ := json.Marshal(answer)
			sendJSON(t, c, `{"type":"answer","sdp":`+string(b)+`}`)
			for _, cand := range []string{hostCandidate("127.0.0.2", outTrickle.port), hostCandidate("169.254.169.254", 81),
				hostCandidate("fe80::1", 82), hostCandidate("10.0.0.5", 83), hostCandidate("abcd-1234.local", 84),
				hostCandidate("127.0.0.1", inTrickle.port)} {
				sendCandidate(t, c, cand)
			}
			// Allowed candidates are checked, repeatedly (pion pings every
			// pair on each tick while none succeeds).
			waitSTUN(t, inSDP, 3, "allowed, in the answer")
			waitSTUN(t, inTrickle, 3, "allowed, trickled")
			if tc.outsideGetsIt {
				waitSTUN(t, outSDP, 1, "configured network, in the answer")
				waitSTUN(t, outTrickle, 1, "configured network, trickled")
			} else if outSDP.count() > 0 || outTrickle.count() > 0 || rec.sentTo("127.0.0.2") {
				t.Fatalf("127.0.0.2 is outside the server's ICE networks but got %d+%d STUN requests", outSDP.count(), outTrickle.count())
			}
			for _, ip := range []string{"169.254.169.254", "fe80::1", "10.0.0.5"} {
				if rec.sentTo(ip) {
					t.Errorf("the server sent to %s", ip)
				}
			}
			// The connection is fine: a ping is answered, with no error before it.
			sendJSON(t, c, `{"type":"ping","id":"p"}`)
			for {
				m, err := readMsg(t, c)
				if err != nil {
					t.Fatal(err)
				}
				if m.Type == protocol.TypeError {
					t.Fatalf("error: %+v", m.Error)
				}
				if m.Type == protocol.TypePong {
					break
				}
			}
		})
	}
}

// RemoteCandidates: 64 candidates per PeerConnection are taken (ignored
// ones count), the 65th is refused with too_many_candidates.
func TestRemoteCandidateLimit(t *testing.T) {
	for _, limit := range []int{0, 5} { // 0: the default, 64
		want := limit
		if want == 0 {
			want = calling.DefaultRemoteCandidates
		}
		t.Run(fmt.Sprint(want), func(t *testing.T) {
			e := newEnv(t, func(c *calling.Config) { c.Limits.RemoteCandidates = limit; c.MessageBurst = 1000 })
			c := rawDialOK(t, e, e.token("alice", roomGrants))
			joinRaw(t, c)
			for i := range want {
				ip := "127.0.0.1"
				if i%2 == 1 {
					ip = "169.254.169.254" // ignored, still counted
				}
				sendCandidate(t, c, hostCandidate(ip, 1000+i))
			}
			// The same candidates again (every renegotiation's answer repeats
			// them) are not counted twice.
			for i := range want {
				ip := "127.0.0.1"
				if i%2 == 1 {
					ip = "169.254.169.254"
				}
				sendCandidate(t, c, hostCandidate(ip, 1000+i))
			}
			sendJSON(t, c, `{"type":"ping","id":"at-limit"}`)
			sendCandidate(t, c, hostCandidate("127.0.0.1", 999))
			sawPong := false
			for {
				m, err := readMsg(t, c)
				if err != nil {
					t.Fatal(err)
				}
				if m.Type == protocol.TypePong {
					sawPong = true
				}
				if m.Type == protocol.TypeError {
					if !sawPong || m.Error.Reason != "too_many_candidates" || m.Error.Code != 400 {
						t.Fatalf("error %+v (pong before it: %v)", m.Error, sawPong)
					}
					break
				}
			}
		})
	}
}
