package prometheus

import (
	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// The metrics; docs/operations.md lists them with what they count.
var (
	connections     = desc("connections", "Open signaling WebSocket connections.")
	rooms           = desc("rooms", "Sessions with at least one participant connected to this node, by kind: room, or call (the session of a 1:1 call).", "kind")
	participants    = desc("participants", "Participants connected to this node in a session (room or call).")
	callsLive       = desc("calls", "Calls in progress on this node, by state (connecting, ringing, accepted, confirmed).", "state")
	callsEnded      = desc("calls_ended_total", "Calls that ended or failed on this node, by final state (ended, failed) and cause.", "state", "cause")
	tracksPublished = desc("tracks_published_total", "Tracks published to this node's SFU.")
	tracksLive      = desc("tracks", "Published tracks not yet closed (unpublished, or their publisher left).")
	fwdPackets      = desc("rtp_forwarded_packets_total", "RTP packets written to subscribers (a packet sent to three subscribers counts three).")
	fwdBytes        = desc("rtp_forwarded_bytes_total", "RTP payload bytes written to subscribers (headers and SRTP not included).")
	nacks           = desc("rtcp_nacks_received_total", "Generic NACK messages from subscribers answered from the retransmission cache (video).")
	nackedPackets   = desc("rtp_nacked_packets_total", "Sequence numbers the subscribers' NACKs asked for.")
	retransmitted   = desc("rtp_retransmitted_packets_total", "RTP packets sent again from the retransmission cache in answer to NACKs.")
	sinkDropped     = desc("sink_dropped_packets_total", "Packets a sink (a recorder, the quality probe) missed because its queue was full.")
	qualityLevels   = desc("network_quality_participants", "Participants by network-quality direction (uplink, downlink) and level (EXCELLENT to BAD, UNKNOWN before the first).", "direction", "level")

	whPending   = desc("webhook_outbox_events", "Webhook events stored and not yet delivered.")
	whDelivered = desc("webhook_events_delivered_total", "Webhook events a receiver answered 2xx to.")
	whRetried   = desc("webhook_attempts_retried_total", "Failed webhook delivery attempts that were retried.")
	whFailed    = desc("webhook_events_failed_total", "Webhook events given up on after the last attempt.")
	whDropped   = desc("webhook_events_dropped_total", "Webhook events the outbox dropped (full) or refused to store.")

	tokensIssued  = desc("oauth_tokens_issued_total", "Access tokens issued by the OAuth2 token endpoint.")
	tokensRefused = desc("oauth_tokens_refused_total", "Token requests refused, by OAuth2 error code (rate_limited: answered 429 after too many failures).", "code")

	pushOutcomes = desc("push_outcomes_total", "Outcomes of push wake-ups, by outcome and platform (empty for an outcome of a whole wake-up, such as no devices).", "outcome", "platform")

	recordingsActive = desc("recordings_active", "Recordings running.")
	recordingWritten = desc("recording_written_bytes_total", "Bytes written to recording media files (participants' and compositions').")

	packetsMeasured = desc("rtp_measured_packets_total", "Packets covered by the network-quality measurement, by direction: uplink, sent by publishers (their sequence numbers); downlink, covered by subscribers' receiver reports.", "direction")
	packetsLost     = desc("rtp_lost_packets_total", "Packets lost, by direction: uplink, never reached the server (sequence gaps); downlink, reported missing by subscribers.", "direction")
)

var (
	callingDescs = []*prom.Desc{connections, rooms, participants, callsLive, callsEnded, tracksPublished, tracksLive,
		fwdPackets, fwdBytes, nacks, nackedPackets, retransmitted, sinkDropped, qualityLevels}
	webhookDescs = []*prom.Desc{whPending, whDelivered, whRetried, whFailed, whDropped}
	tokenDescs   = []*prom.Desc{tokensIssued, tokensRefused}
)

// The label values exported at zero before they first happen, so a rate
// or an alert has a series from the first scrape.
var (
	qualityLevelNames = []string{protocol.QualityExcellent, protocol.QualityGood, protocol.QualityFair,
		protocol.QualityPoor, protocol.QualityBad, protocol.QualityUnknown}
	tokenErrorCodes = []string{"invalid_request", "invalid_client", "unsupported_grant_type", "invalid_scope",
		"server_error", auth.RefusedRateLimited}
)

func collectCalling(ch chan<- prom.Metric, s calling.Stats) {
	gauge(ch, connections, s.Connections)
	gauge(ch, rooms, s.Rooms, "room")
	gauge(ch, rooms, s.CallSessions, "call")
	gauge(ch, participants, s.Participants)
	for st, n := range s.Calls {
		gauge(ch, callsLive, n, string(st))
	}
	for e, n := range s.CallsEnded {
		counter(ch, callsEnded, n, string(e.State), string(e.Cause))
	}
	counter(ch, tracksPublished, s.TracksPublished)
	gauge(ch, tracksLive, s.Tracks)
	counter(ch, fwdPackets, s.Media.ForwardedPackets)
	counter(ch, fwdBytes, s.Media.ForwardedBytes)
	counter(ch, nacks, s.Media.NACKs)
	counter(ch, nackedPackets, s.Media.NACKedPackets)
	counter(ch, retransmitted, s.Media.Retransmitted)
	counter(ch, sinkDropped, s.Media.SinkDropped)
	if s.Quality == nil {
		return // no QualityMonitor
	}
	for _, dir := range []string{protocol.DirectionUplink, protocol.DirectionDownlink} {
		for _, level := range qualityLevelNames {
			gauge(ch, qualityLevels, s.Quality[calling.QualityLevel{Direction: dir, Level: level}], dir, level)
		}
	}
}

func collectWebhooks(ch chan<- prom.Metric, s calling.WebhookStats) {
	if s.Pending >= 0 { // -1: the outbox does not say
		gauge(ch, whPending, s.Pending)
	}
	counter(ch, whDelivered, s.Delivered)
	counter(ch, whRetried, s.Retried)
	counter(ch, whFailed, s.Failed)
	counter(ch, whDropped, s.Dropped)
}

func collectTokens(ch chan<- prom.Metric, s auth.TokenStats) {
	counter(ch, tokensIssued, s.Issued)
	for _, code := range tokenErrorCodes {
		counter(ch, tokensRefused, s.Refused[code], code)
	}
	for code, n := range s.Refused {
		if !known(code) {
			counter(ch, tokensRefused, n, code)
		}
	}
}

func known(code string) bool {
	for _, c := range tokenErrorCodes {
		if c == code {
			return true
		}
	}
	return false
}
