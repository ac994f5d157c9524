// Package netquality tells how good a participant's network is for a
// call, per direction, from the statistics an SFU already has: uplink from
// the RTP a participant publishes (loss from sequence numbers, interarrival
// jitter), downlink from the RTCP receiver reports it sends about the
// streams it receives (fraction lost, jitter, round trip from LSR/DLSR).
// It imports nothing of calling: a host attaches its types where calling
// offers seams.
//
// The pieces, from the packet up:
//   - RTPStats counts one received RTP stream. Its WriteRTP(header,
//     payload) has the shape of an SFU sink (lock-free and allocation-free
//     per packet); Snapshot turns the interval since the previous one into
//     a Sample.
//   - ReportStats reads the RTCP one participant sends (ParseReport and
//     RoundTrip convert a single report block) and makes its downlink
//     Samples. With a ForwardLog (what an SFU forwarded of the stream, by
//     sequence number) it counts only the loss after the server: a gap
//     the publisher's uplink made is not the subscriber's.
//   - Score is the simplified E-model (rtt, jitter, loss, codec → MOS) and
//     LevelOf its five levels, EXCELLENT to BAD.
//   - Estimator averages one direction's Samples over a window (5 s) and
//     keeps a level with hysteresis; pure, time comes from the samples.
//     Hosts that collect their own statistics use it alone.
//   - Monitor holds an Estimator per participant and direction, takes the
//     Samples each second (Tick, from attached Sources, or Observe) and
//     reports each level change to a callback as a Change, from which the
//     networkQuality and participantNetworkQuality events are built. For
//     an SFU, AttachUplink and AttachDownlink make and attach the
//     statistics of one stream (sharing its ForwardLog by name) and return
//     the functions to feed them; their parameters are standard types, so
//     package calling takes a *Monitor as its QualityMonitor without
//     either package importing the other (docs/netquality.md).
//
// A participant that sends nothing (muted, Opus DTX silence) is not scored
// as bad: an inactive sample changes nothing and the level stays as it
// was. Note that a complete outage of an uplink looks the same from the
// server (nothing arrives); connection state, not this package, reports
// that.
//
// Compose it (the SFU's sink and RTCP seams are the host's):
//
//	mon, _ := netquality.New(netquality.Config{OnChange: func(c netquality.Change) {
//		// to c.ParticipantID: networkQuality{c.Level, c.MOS, c.Uplink, c.Downlink}
//		// to the others: participantNetworkQuality{c.ParticipantID, c.Identity,
//		//	c.Of(c.Direction).Level, c.Direction}
//	}})
//	go mon.Run(ctx) // ticks every second until ctx ends
//
//	mon.Join(pid, identity)
//	up := netquality.NewRTPStats(netquality.RTPStatsConfig{ClockRate: 48000, MimeType: "audio/opus"})
//	// attach up as a sink of the participant's published audio track, then:
//	detachUp, _ := mon.Attach(pid, netquality.Uplink, up)
//	down := netquality.NewReportStats(netquality.ReportStatsConfig{})
//	down.Track(ssrc, 48000, "audio/opus") // each stream sent to the participant
//	// pass the RTCP read from its senders to down.WriteRTCP, and:
//	detachDown, _ := mon.Attach(pid, netquality.Downlink, down)
//	...
//	mon.Remove(pid) // when it leaves: no event about it after this
//
// Concurrency: RTPStats and ForwardLog take one writer and any readers;
// ReportStats and Monitor are safe for concurrent use; Estimator is not.
package netquality
