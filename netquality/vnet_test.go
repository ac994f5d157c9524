package netquality

import (
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/transport/v4/test"
	"github.com/pion/transport/v4/vnet"
	"github.com/pion/webrtc/v4"
)

// vnetPeer is a pion PeerConnection on the simulated network: no packet
// reaches a real interface (the network is in-process).
func vnetPeer(t *testing.T, router *vnet.Router, ip string) *webrtc.PeerConnection {
	t.Helper()
	nw, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
	if err != nil {
		t.Fatal(err)
	}
	if err := router.AddNet(nw); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetNet(nw)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(5*time.Second, 10*time.Second, 200*time.Millisecond)
	me, ir := &webrtc.MediaEngine{}, &interceptor.Registry{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil { // SR and RR every second
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir)).
		NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// A pion sender and receiver on a simulated network with 20 ms one-way
// delay, every 10th Opus packet to the receiver dropped: the receiver's
// RTPStats reports 10 % loss, and the sender's ReportStats reads the
// receiver's RTCP reports as about 10 % loss and a 40 ms round trip.
func TestVNetLossAndRoundTrip(t *testing.T) {
	defer test.CheckRoutines(t)()
	defer test.TimeOut(60 * time.Second).Stop()

	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "1.2.3.0/24", MinDelay: 20 * time.Millisecond,
		LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	const senderIP, receiverIP = "1.2.3.4", "1.2.3.5"
	var opus, dropped atomic.Uint32
	router.AddChunkFilter(func(c vnet.Chunk) bool {
		if !strings.HasPrefix(c.DestinationAddr().String(), receiverIP+":") {
			return true
		}
		var h rtp.Header
		if _, err := h.Unmarshal(c.UserData()); err != nil || h.Version != 2 || h.PayloadType != 111 {
			return true // STUN, DTLS, RTCP
		}
		if opus.Add(1)%10 == 0 {
			dropped.Add(1)
			return false
		}
		return true
	})
	sender, receiver := vnetPeer(t, router, senderIP), vnetPeer(t, router, receiverIP)
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = router.Stop() }()
	defer func() { _ = receiver.Close() }()
	defer func() { _ = sender.Close() }()

	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "s")
	if err != nil {
		t.Fatal(err)
	}
	rtpSender, err := sender.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}

	// The receiver: every packet into RTPStats, as an SFU sink would.
	up := NewRTPStats(RTPStatsConfig{ClockRate: 48000, MimeType: webrtc.MimeTypeOpus})
	var received atomic.Int64
	var readers sync.WaitGroup
	receiver.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		readers.Add(2)
		defer readers.Done()
		go func() { // the sender's SRs reach the report interceptor only when read
			defer readers.Done()
			for {
				if _, _, err := r.ReadRTCP(); err != nil {
					return
				}
			}
		}()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			_ = up.WriteRTP(&pkt.Header, pkt.Payload)
			received.Add(1)
		}
	})

	// The sender: its RTCP into ReportStats (the downlink side of a
	// subscriber, seen from the SFU).
	down := NewReportStats(ReportStatsConfig{})
	down.Track(uint32(rtpSender.GetParameters().Encodings[0].SSRC), 48000, webrtc.MimeTypeOpus)
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			pkts, _, err := rtpSender.ReadRTCP()
			if err != nil {
				return
			}
			_ = down.WriteRTCP(pkts)
		}
	}()

	connect(t, sender, receiver)

	ctx, stop := context.WithCancel(t.Context())
	var sending sync.WaitGroup
	defer func() { stop(); sending.Wait() }()
	sending.Add(1)
	go func() { // 20 ms of Opus at a time
		defer sending.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		payload := make([]byte, 80)
		for i := uint32(0); ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: 960 * i}, Payload: payload}); err != nil && !errors.Is(err, io.ErrClosedPipe) {
					t.Error(err)
				}
			}
		}
	}()

	// Wait for 200 packets received and a round trip measured (the SR and
	// RR go out every second), then read both sides.
	poll(t, func() bool {
		_, ok := down.RTT()
		return received.Load() >= 200 && ok
	})
	stop()
	sending.Wait()
	s := up.Snapshot(time.Now())
	t.Logf("uplink: %+v (the filter dropped %d of %d)", s, dropped.Load(), opus.Load())
	if !s.Active || s.Packets < 200 || math.Abs(s.LossPercent-10) > 1 {
		t.Errorf("uplink sample %+v, want 10 ± 1 %% loss over 200+ packets", s)
	}
	if s.JitterMs > 20 {
		t.Errorf("jitter %v ms on a network with no jitter", s.JitterMs)
	}
	d := down.Snapshot(time.Now())
	t.Logf("downlink: %+v", d)
	// The RR's fraction lost covers its own interval (8 bits, so 9.8 % or
	// 10.2 % for 10 %); its round trip is 2 × 20 ms plus scheduling.
	if !d.Active || d.LossPercent < 5 || d.LossPercent > 15 {
		t.Errorf("downlink sample %+v, want about 10 %% loss", d)
	}
	if d.RTTMs < 38 || d.RTTMs > 100 {
		t.Errorf("round trip %v ms, want about 40", d.RTTMs)
	}
	_ = sender.Close()
	_ = receiver.Close()
	readers.Wait()
}

// connect exchanges the offer and answer (complete, no trickle) and waits
// until both peers are connected.
func connect(t *testing.T, offerer, answerer *webrtc.PeerConnection) {
	t.Helper()
	connected := func(pc *webrtc.PeerConnection) <-chan struct{} {
		ch := make(chan struct{})
		var once sync.Once
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateConnected {
				once.Do(func() { close(ch) })
			}
		})
		return ch
	}
	a, b := connected(offerer), connected(answerer)
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := offerer.SetRemoteDescription(*answerer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan struct{}{a, b} {
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatal("not connected within 20 s")
		}
	}
}
