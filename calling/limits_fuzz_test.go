package calling

import (
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/clock"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// FuzzRemoteCandidate: whatever a client sends as a candidate, the parser
// never panics, and anything kept points at one of the server's ICE
// addresses (ICEIPs 127.0.0.1 allows 127.0.0.1 only).
func FuzzRemoteCandidate(f *testing.F) {
	for _, s := range []string{
		"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", "candidate:1 1 udp 2130706431 169.254.169.254 80 typ host",
		"candidate:1 1 udp 2130706431 fe80::1 80 typ host", "candidate:1 1 udp 2130706431 ::ffff:127.0.0.1 80 typ host",
		"candidate:1 1 udp 2130706431 64:ff9b::a9fe:a9fe 80 typ host", "candidate:1 1 udp 2130706431 x.local 80 typ host",
		"candidate:1 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
		"candidate:1 1 udp 1694498815 127.0.0.2 5000 typ srflx raddr 127.0.0.1 rport 5000 generation 0 ufrag abcd",
		"candidate:1 1 udp 16777215 10.0.0.5 3478 typ relay raddr 0.0.0.0 rport 0", "", "candidate:", "garbage", "1 1 udp",
	} {
		f.Add(s)
	}
	cp, err := newCandidatePolicy(nil, MediaConfig{ICEIPs: []string{"127.0.0.1"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		keep, err := cp.parseCandidate(raw)
		if err != nil || !keep || strings.TrimPrefix(raw, "candidate:") == "" {
			return
		}
		c, err := ice.UnmarshalCandidate(raw)
		if err != nil {
			t.Fatalf("kept %q that does not parse: %v", raw, err)
		}
		a, err := netip.ParseAddr(c.Address())
		if err != nil || a.Unmap() != netip.MustParseAddr("127.0.0.1") {
			t.Fatalf("kept %q pointing at %q", raw, c.Address())
		}
	})
}

// FuzzAnswer: SDP answers from a client, through a real peer's onAnswer.
// Nothing panics; an accepted answer's remote description holds only
// candidates the policy allows, at most RemoteCandidates of them.
func FuzzAnswer(f *testing.F) {
	mgr, _ := rooms.NewManager(rooms.Config{})
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	s, err := New(Config{Rooms: mgr, Verifier: ver, Media: MediaConfig{ICEIPs: []string{"127.0.0.1"}}, Limits: Limits{RemoteCandidates: 4}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	newOfferer := func(t testing.TB) *peer {
		p := newPeer(s, nil, &auth.Claims{Subject: "alice", Account: "a"})
		pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.CreateDataChannel("switchboard", nil); err != nil {
			t.Fatal(err)
		}
		offer, err := pc.CreateOffer(nil)
		if err == nil {
			err = pc.SetLocalDescription(offer)
		}
		if err != nil {
			t.Fatal(err)
		}
		p.st.pc, p.st.negotiating = pc, true
		return p
	}
	// A real answer to seed with.
	p := newOfferer(f)
	se := webrtc.SettingEngine{} // it never gathers; loopback only all the same
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	answerer, _ := api.NewPeerConnection(webrtc.Configuration{})
	_ = answerer.SetRemoteDescription(*p.st.pc.LocalDescription())
	ans, err := answerer.CreateAnswer(nil)
	_ = answerer.Close()
	_ = p.st.pc.Close()
	p.cancel()
	if err != nil {
		f.Fatal(err)
	}
	cand := func(ip string) string { return "a=candidate:1 1 udp 2130706431 " + ip + " 9 typ host\r\n" }
	for _, s := range []string{
		ans.SDP,
		ans.SDP + cand("127.0.0.1") + cand("169.254.169.254") + cand("127.0.0.2") + "a=candidate:garbage\r\n",
		ans.SDP + strings.Repeat(cand("127.0.0.1"), 5),
		strings.ReplaceAll(ans.SDP, "\r\n", "\n") + cand("fe80::1"),
		"v=0\r\n", "", "a=candidate:1 1 udp 1 127.0.0.1 9 typ host",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sdp string) {
		p := newOfferer(t)
		defer p.cancel()
		defer func() { _ = p.st.pc.Close() }()
		err := p.onAnswer(&protocol.Message{Type: protocol.TypeAnswer, SDP: sdp})
		if err != nil {
			if pe := protocolError(err); pe.Code != 400 && pe.Code != 409 {
				t.Fatalf("answer error %+v", pe)
			}
			return
		}
		rd := p.st.pc.RemoteDescription()
		if rd == nil {
			t.Fatal("accepted without a remote description")
		}
		n := 0
		for line := range strings.SplitSeq(rd.SDP, "\n") {
			v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=candidate:")
			if !ok {
				continue
			}
			n++
			if keep, err := s.lim.ice.parseCandidate(v); err != nil || !keep {
				t.Fatalf("remote description kept %q", line)
			}
		}
		if n > 4 {
			t.Fatalf("%d candidates kept, limit 4", n)
		}
	})
}

// captureDC is a data channel that records what the server sends on it.
type captureDC struct {
	mu   sync.Mutex
	sent []string
}

func (c *captureDC) SendText(s string) error {
	c.mu.Lock()
	c.sent = append(c.sent, s)
	c.mu.Unlock()
	return nil
}

func (c *captureDC) ReadyState() int { return int(webrtc.DataChannelStateOpen) }

// FuzzDataEnvelope: whatever a participant sends on its data channel,
// onData never panics; it either answers with an error envelope or relays
// a message envelope whose sender is the participant itself (never what
// the client claimed), to the identities it named.
func FuzzDataEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"type":"message","text":"hi"}`, `{"type":"message","to":"bob","text":"hi"}`, `{"type":"message","to":"carol","text":"x"}`,
		`{"type":"message","text":"hi","from":"mallory","fromParticipant":"p-9"}`, `{"type":"broadcast","text":"x"}`,
		`{"type":"message","text":1}`, `{`, `null`, `[]`, `"x"`, `{"type":"message","text":"\u0000"}`,
	} {
		f.Add([]byte(s), true)
	}
	f.Add([]byte{0xff, 0xfe}, false)
	srv := &Server{cfg: Config{MaxDataMessageBytes: 256}, clock: clock.Real{}}
	f.Fuzz(func(t *testing.T, b []byte, isString bool) {
		self, other := &captureDC{}, &captureDC{}
		r := newRoom(roomKey{"a", "s"})
		p := &peer{srv: srv, claims: &auth.Claims{Subject: "alice", Grants: auth.Grants{Data: true}}, pid: "p-1", identity: "alice", room: r, dc: self}
		bob := &peer{pid: "p-2", identity: "bob", dc: other}
		r.peers["p-1"] = &member{p: p, pid: "p-1", identity: "alice"}
		r.peers["p-2"] = &member{p: bob, pid: "p-2", identity: "bob"}
		p.onData(webrtc.DataChannelMessage{IsString: isString, Data: b})
		for _, s := range self.sent {
			var env protocol.DataEnvelope
			if json.Unmarshal([]byte(s), &env) != nil || env.Type != "error" {
				t.Fatalf("reply %q", s)
			}
		}
		for _, s := range other.sent {
			var env protocol.DataEnvelope
			if json.Unmarshal([]byte(s), &env) != nil || env.Type != protocol.DataMessage || env.From != "alice" || env.FromParticipant != "p-1" ||
				(env.To != "" && env.To != "bob") {
				t.Fatalf("relayed %q", s)
			}
		}
		if len(self.sent)+len(other.sent) > 1 {
			t.Fatalf("one message made %d", len(self.sent)+len(other.sent))
		}
		if len(b) > 256 && len(other.sent) > 0 {
			t.Fatal("relayed a message over the limit")
		}
	})
}
