package calling

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/internal/codecs"
	"github.com/switchboard-rtc/switchboard/internal/iceaddr"
	"github.com/switchboard-rtc/switchboard/internal/lazyinterceptor"
	"github.com/switchboard-rtc/switchboard/internal/pionlog"
	"github.com/switchboard-rtc/switchboard/internal/senderreport"
	"github.com/switchboard-rtc/switchboard/internal/udpbatch"
)

// MediaConfig builds the pion API a Server uses when Config.API is nil.
// Hosts that need more control build their own *webrtc.API (we do not wrap pion).
type MediaConfig struct {
	// ICEIPs restricts host candidates to these addresses (e.g. 127.0.0.1
	// for tests and load runs on one machine). Empty: every interface.
	ICEIPs []string
	// UDPPort is the one UDP port every peer shares (pion's UDP mux).
	// 0 picks a free port.
	UDPPort int
	// NAT1To1IPs are public addresses to advertise instead of the host's
	// (a server behind 1:1 NAT).
	NAT1To1IPs []string
	// Logger receives pion's own logs (warnings and errors of ICE, DTLS,
	// SCTP, ...). Default: discard. Server sets it to Config.Logger.
	Logger *slog.Logger
	// DisconnectedTimeout and FailedTimeout of ICE. Defaults 3 s and 5 s,
	// so a vanished peer is gone within 10 s.
	DisconnectedTimeout, FailedTimeout time.Duration
	// SendBatch is how many datagrams one system call sends at most when a
	// packet is forwarded to many subscribers (sendmmsg on Linux): the
	// copies of one packet leave together instead of one sendto each.
	// 0: 64. -1: no batching. Only a Server that builds its API from
	// MediaConfig (Config.API nil) batches.
	SendBatch int
	// SocketBuffer is the send and receive buffer of the media socket, in
	// bytes (SO_SNDBUF, SO_RCVBUF; the kernel caps it at
	// net.core.wmem_max and rmem_max). A packet forwarded to many
	// subscribers is that many datagrams in flight at once (about 1 KiB of
	// buffer each on Linux until the receiver takes it); with the kernel's
	// default (about 208 KiB) a fan-out to a few hundred waits on the
	// socket. 0: DefaultSocketBuffer. -1: the kernel's default.
	SocketBuffer int
}

// DefaultSocketBuffer is MediaConfig.SocketBuffer's default: 4 MiB.
const DefaultSocketBuffer = 4 << 20

// NewAPI returns a pion API with the codecs and interceptors of
// RegisterMedia and one shared UDP port. Close the returned io.Closer after
// the last PeerConnection is closed to release the port.
func NewAPI(cfg MediaConfig) (*webrtc.API, io.Closer, error) {
	m, err := newMedia(cfg)
	if err != nil {
		return nil, nil, err
	}
	return m.api, m.closer, nil
}

// media is what newMedia builds: the API, what releases its sockets, and
// the sockets' send batching (nil when MediaConfig.SendBatch is -1).
type media struct {
	api    *webrtc.API
	closer io.Closer
	batch  udpbatch.Group
	// withFeedback returns an API like api whose PeerConnection hands its
	// decrypted RTCP to fb (one API per PeerConnection: pion's
	// BufferFactory does not say which PeerConnection a stream is of).
	withFeedback func(fb *feedback) *webrtc.API
}

func newMedia(cfg MediaConfig) (*media, error) {
	if cfg.SendBatch < -1 || cfg.SocketBuffer < -1 {
		return nil, ErrMediaConfig
	}
	me, ir := &webrtc.MediaEngine{}, &interceptor.Registry{}
	if err := RegisterMedia(me, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	se.LoggerFactory = pionlog.Factory{Logger: cfg.Logger}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if cfg.DisconnectedTimeout == 0 {
		cfg.DisconnectedTimeout = 3 * time.Second
	}
	if cfg.FailedTimeout == 0 {
		cfg.FailedTimeout = 5 * time.Second
	}
	se.SetICETimeouts(cfg.DisconnectedTimeout, cfg.FailedTimeout, time.Second)
	if len(cfg.NAT1To1IPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: cfg.NAT1To1IPs, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			return nil, fmt.Errorf("calling: NAT 1:1 addresses: %w", err)
		}
	}

	var muxes []ice.UDPMux
	var conns []net.PacketConn
	var batch udpbatch.Group
	closeAll := func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}
	// wrap gives pion's mux the socket, batched unless SendBatch is -1.
	wrap := func(c *net.UDPConn) net.PacketConn {
		if size := cmp.Or(cfg.SocketBuffer, DefaultSocketBuffer); size > 0 {
			_ = c.SetWriteBuffer(size) // best effort: the kernel caps it
			_ = c.SetReadBuffer(size)
		}
		if cfg.SendBatch == -1 {
			return c
		}
		b := udpbatch.New(c, cfg.SendBatch)
		batch = append(batch, b)
		return b
	}
	if len(cfg.ICEIPs) > 0 {
		allowed, loopback, err := iceaddr.Parse(cfg.ICEIPs)
		if err != nil {
			return nil, fmt.Errorf("calling: ICE IP: %w", err)
		}
		for _, ip := range allowed {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: cfg.UDPPort})
			if err != nil {
				closeAll()
				return nil, err
			}
			conns = append(conns, c)
			muxes = append(muxes, webrtc.NewICEUDPMux(nil, wrap(c)))
		}
		se.SetIPFilter(iceaddr.Filter(allowed))
		se.SetIncludeLoopbackCandidate(loopback)
	} else {
		c, err := net.ListenUDP("udp", &net.UDPAddr{Port: cfg.UDPPort})
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
		muxes = append(muxes, webrtc.NewICEUDPMux(nil, wrap(c)))
	}
	if len(muxes) == 1 {
		se.SetICEUDPMux(muxes[0])
	} else {
		se.SetICEUDPMux(ice.NewMultiUDPMuxDefault(muxes...))
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	withFeedback := func(fb *feedback) *webrtc.API {
		pcSE := se // NewAPI keeps its own copy; the mux and the filters are shared
		pcSE.BufferFactory = fb.buffer
		return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(pcSE))
	}
	return &media{api: api, batch: batch, withFeedback: withFeedback, closer: closerFunc(func() error {
		var errs []error
		for _, m := range muxes {
			errs = append(errs, m.Close())
		}
		return errors.Join(errs...)
	})}, nil
}

// RegisterMedia configures what an SFU API needs: pion's default codecs plus
// RFC 4733 telephone-event, and the interceptors: NACK generation toward
// publishers and TWCC feedback (both for video only, and built for a
// PeerConnection only when a video stream arrives: internal/lazyinterceptor,
// so an audio-only PeerConnection runs neither goroutine), RTCP receiver
// reports (pion's) and sender reports (internal/senderreport: a few atomic
// counters per packet and one goroutine for every PeerConnection, where
// pion's takes a lock and the time per packet and a goroutine each). No
// statistics interceptor (nothing on the server reads GetStats; it cost
// about 7 % of the CPU forwarding audio) and no per-subscriber NACK
// responder: forwarded video is retransmitted from one cache per published
// track. Hosts that build their own *webrtc.API (Config.API) call it.
func RegisterMedia(me *webrtc.MediaEngine, ir *interceptor.Registry) error {
	if err := codecs.Register(me); err != nil {
		return err
	}
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return err
	}
	ir.Add(lazyinterceptor.New(gen, lazyinterceptor.HasFeedback("nack")))
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return err
	}
	ir.Add(rr)
	ir.Add(senderreport.New(0, nil))
	// TWCC feedback lets a publisher's browser estimate its uplink for
	// video; audio goes without (pion's ConfigureTWCCSender adds both).
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, webrtc.RTPCodecTypeVideo)
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return err
	}
	twccGen, err := twcc.NewSenderInterceptor()
	if err != nil {
		return err
	}
	ir.Add(lazyinterceptor.New(twccGen, lazyinterceptor.HasFeedback(webrtc.TypeRTCPFBTransportCC)))
	return nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// newPeerConnection makes the PeerConnection of a session within the
// server's PeerConnections and Rooms limits. closePeerConnection releases it.
// With the server's own API the PeerConnection hands the RTCP about the
// tracks it receives to the returned feedback (nil with a host's API: then
// a goroutine per sender reads it, sfu.Track.ReadRTCPTo).
func (p *peer) newPeerConnection(sid string) (*webrtc.PeerConnection, *feedback, error) {
	if err := p.srv.lim.acquirePC(p, roomKey{p.claims.Account, sid}); err != nil {
		return nil, nil, err
	}
	api := p.srv.api
	var fb *feedback
	if p.srv.withFeedback != nil {
		fb = newFeedback()
		api = p.srv.withFeedback(fb)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		p.srv.lim.releasePC(p)
		return nil, nil, err
	}
	return pc, fb, nil
}

// closePeerConnection closes pc (if any), ends fb's measurements and
// releases the peer's slot.
func (p *peer) closePeerConnection(pc *webrtc.PeerConnection, fb *feedback) {
	if pc != nil {
		_ = pc.Close()
	}
	if fb != nil {
		fb.close()
	}
	p.srv.lim.releasePC(p)
}
