package client

import (
	"fmt"
	"log/slog"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/internal/codecs"
	"github.com/switchboard-rtc/switchboard/internal/iceaddr"
	"github.com/switchboard-rtc/switchboard/internal/pionlog"
)

// NewAPI returns a pion API with the default codecs and interceptors. With
// ips it gathers candidates only on those addresses (e.g. "127.0.0.1").
func NewAPI(ips ...string) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := codecs.Register(me); err != nil { // pion's defaults + RFC 4733 telephone-event
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.LoggerFactory = pionlog.Factory{Logger: slog.New(slog.DiscardHandler)} // errors reach the caller as errors and states
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if len(ips) > 0 {
		allowed, loop, err := iceaddr.Parse(ips)
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		se.SetIPFilter(iceaddr.Filter(allowed))
		se.SetIncludeLoopbackCandidate(loop)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}
