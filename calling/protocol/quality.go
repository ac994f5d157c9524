package protocol

// Network quality levels, best first (the networkQuality and
// participantNetworkQuality messages). A level comes from a mean opinion
// score (MOS, 1 to 4.5) of the participant's path: EXCELLENT above 4.34,
// GOOD above 4.03, FAIR above 3.6, POOR above 3.1, BAD below.
const (
	QualityExcellent = "EXCELLENT"
	QualityGood      = "GOOD"
	QualityFair      = "FAIR"
	QualityPoor      = "POOR"
	QualityBad       = "BAD"
	// QualityUnknown is the level of a direction not scored yet (nothing
	// sent or received so far).
	QualityUnknown = "UNKNOWN"
)

// The directions of a participant's media: uplink is what it sends, as
// the server receives it; downlink what the server sends it, as it reports
// receiving it.
const (
	DirectionUplink   = "uplink"
	DirectionDownlink = "downlink"
)

// LinkQuality is one direction's network quality in a networkQuality
// message: its level and the figures it was decided on, averaged over the
// last seconds (MOS to 2 decimals, the others to 1).
type LinkQuality struct {
	Level    string  `json:"level"`
	MOS      float64 `json:"mos"`
	Loss     float64 `json:"loss"` // packets lost, %
	JitterMs float64 `json:"jitterMs"`
	RTTMs    float64 `json:"rttMs"` // round trip between the participant and the server
}

// QualityRank orders levels: 5 for EXCELLENT down to 1 for BAD, 0 for
// UNKNOWN or anything else. A greater rank is a better level.
func QualityRank(level string) int {
	switch level {
	case QualityExcellent:
		return 5
	case QualityGood:
		return 4
	case QualityFair:
		return 3
	case QualityPoor:
		return 2
	case QualityBad:
		return 1
	}
	return 0
}
