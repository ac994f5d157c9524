package main

import (
	"log/slog"
	"sync/atomic"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/netquality"
)

// newQuality returns the network-quality monitor for calling.Config.Quality,
// and the function that hands it the Server once it exists: the monitor's
// level changes go to Server.NetworkQualityChanged (the two packages do not
// import each other; this is the glue).
func newQuality(logger *slog.Logger) (*netquality.Monitor, func(*calling.Server), error) {
	var srv atomic.Pointer[calling.Server]
	link := func(q netquality.Quality) protocol.LinkQuality {
		return protocol.LinkQuality{Level: q.Level.String(), MOS: q.MOS, Loss: q.LossPercent, JitterMs: q.JitterMs, RTTMs: q.RTTMs}
	}
	mon, err := netquality.New(netquality.Config{Logger: logger, OnChange: func(c netquality.Change) {
		if s := srv.Load(); s != nil {
			s.NetworkQualityChanged(calling.QualityChange{ParticipantID: c.ParticipantID, Direction: c.Direction.String(),
				Level: c.Level.String(), MOS: c.MOS, Uplink: link(c.Uplink), Downlink: link(c.Downlink)})
		}
	}})
	return mon, srv.Store, err
}
