package client

import "strings"

// pion v4's answerer stops a transceiver (and its receiver) each time an
// offer marks its m-line inactive. The server marks a forwarded track's
// m-line inactive when the track goes and reuses the m-line for a later
// track; after a second inactive offer the receiver pion kept for the
// m-line is stopped too, and the reused m-line never delivers its track.
// So an m-line that is inactive again in a later offer is applied as
// sendonly without a source (nothing arrives, the receiver stays usable)
// and answered inactive, as the server expects.

// sdpSection is one m= section: its mid and direction attribute.
type sdpSection struct {
	mid, dir string
	start    int // index of the section's first line in lines
	end      int
}

func sdpSections(lines []string) []sdpSection {
	var out []sdpSection
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "m="):
			if n := len(out); n > 0 {
				out[n-1].end = i
			}
			out = append(out, sdpSection{start: i, end: len(lines)})
		case len(out) == 0:
		case strings.HasPrefix(l, "a=mid:"):
			out[len(out)-1].mid = strings.TrimPrefix(l, "a=mid:")
		case l == "a=sendrecv" || l == "a=sendonly" || l == "a=recvonly" || l == "a=inactive":
			out[len(out)-1].dir = strings.TrimPrefix(l, "a=")
		}
	}
	return out
}

// setDirection rewrites the direction of the sections whose mid is in mids.
func setDirection(sdp string, mids map[string]bool, dir string) string {
	if len(mids) == 0 {
		return sdp
	}
	lines := strings.Split(sdp, "\r\n")
	for _, s := range sdpSections(lines) {
		if !mids[s.mid] {
			continue
		}
		for i := s.start; i < s.end; i++ {
			switch lines[i] {
			case "a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive":
				lines[i] = "a=" + dir
			}
		}
	}
	return strings.Join(lines, "\r\n")
}

// parkInactive returns the offer to apply and the mids it parked: those
// inactive in this offer and in the previous one (c.inactive, updated).
func (c *Client) parkInactive(offer string) (string, map[string]bool) {
	parked := map[string]bool{}
	now := map[string]bool{}
	for _, s := range sdpSections(strings.Split(offer, "\r\n")) {
		if s.dir != "inactive" || s.mid == "" {
			continue
		}
		now[s.mid] = true
		if c.inactive[s.mid] {
			parked[s.mid] = true
		}
	}
	c.inactive = now
	return setDirection(offer, parked, "sendonly"), parked
}
