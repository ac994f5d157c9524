package calling

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// candidatePolicy decides which remote ICE candidates reach pion, so a
// client cannot make the server send STUN wherever it likes. Immutable
// after newCandidatePolicy; safe for concurrent use.
type candidatePolicy struct {
	public   bool           // every globally routable address
	prefixes []netip.Prefix // and these networks
}

// Addresses a candidate may never point to, whatever the configuration:
// link-local (where cloud metadata services live), the metadata services
// that sit elsewhere, and the unroutable.
var neverCandidates = mustPrefixes(
	"169.254.0.0/16", "fe80::/10", // link-local, incl. 169.254.169.254
	"fd00:ec2::254/128", "100.100.100.200/32", "168.63.129.16/32", // AWS IPv6, Alibaba, Azure metadata
	"0.0.0.0/8", "255.255.255.255/32", "224.0.0.0/4", "240.0.0.0/4", "ff00::/8", "::/128",
	"64:ff9b:1::/48", // local-use NAT64: could translate to anything
)

// Ranges that are not public although they are not private either.
var notPublic = mustPrefixes(
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
	"192.0.0.0/24", "198.18.0.0/15", "fc00::/7", "fec0::/10", "::1/128", "2001:db8::/32",
)

var v6Global = netip.MustParsePrefix("2000::/3")

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// newCandidatePolicy builds the policy from Limits.CandidateNetworks, or
// (when empty) from the server's own ICE addresses.
func newCandidatePolicy(networks []string, media MediaConfig) (*candidatePolicy, error) {
	cp := &candidatePolicy{}
	if len(networks) > 0 {
		for _, n := range networks {
			if n == "public" {
				cp.public = true
				continue
			}
			p, err := netip.ParsePrefix(n)
			if err != nil {
				return nil, fmt.Errorf("calling: CandidateNetworks: %w", err)
			}
			cp.prefixes = append(cp.prefixes, p.Masked())
		}
		return cp, nil
	}
	ifaces := interfaceNets()
	if len(media.ICEIPs) == 0 {
		for _, p := range ifaces {
			if !p.Addr().IsLoopback() { // pion offers no loopback candidate then
				cp.addOwn(p.Addr(), ifaces)
			}
		}
	}
	for _, s := range append(append([]string(nil), media.ICEIPs...), media.NAT1To1IPs...) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("calling: ICE address %q: %w", s, err)
		}
		cp.addOwn(a, ifaces)
	}
	return cp, nil
}

// addOwn allows what one of the server's own addresses can talk to: a
// loopback address itself, a private one its interface's subnet (a /24 or
// /64 when no interface holds it), a public one every public address.
func (cp *candidatePolicy) addOwn(a netip.Addr, ifaces []netip.Prefix) {
	a = a.Unmap().WithZone("")
	switch {
	case inAny(a, neverCandidates) || a.IsLinkLocalUnicast():
	case a.IsLoopback():
		cp.prefixes = append(cp.prefixes, netip.PrefixFrom(a, a.BitLen()))
	case isPublic(a):
		cp.public = true
	default:
		for _, p := range ifaces {
			if p.Addr() == a {
				cp.prefixes = append(cp.prefixes, p.Masked())
				return
			}
		}
		bits := 24
		if a.Is6() {
			bits = 64
		}
		p, _ := a.Prefix(bits)
		cp.prefixes = append(cp.prefixes, p)
	}
}

// interfaceNets lists the addresses of the host's interfaces with their masks.
func interfaceNets() []netip.Prefix {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ip, ok := netip.AddrFromSlice(n.IP)
			ones, _ := n.Mask.Size()
			if ok {
				out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
			}
		}
	}
	return out
}

// isPublic reports whether a is globally routable.
func isPublic(a netip.Addr) bool {
	if inAny(a, notPublic) || inAny(a, neverCandidates) || !a.IsGlobalUnicast() {
		return false
	}
	return a.Is4() || v6Global.Contains(a)
}

// embeddedIPv4 returns the IPv4 address a transition address leads to
// (NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32), so it is judged
// by where its packets end up.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && [8]byte(b[4:12]) == [8]byte{}:
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case b[0] == 0x20 && b[1] == 0x02:
		return netip.AddrFrom4([4]byte(b[2:6])), true
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0:
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), true
	}
	return netip.Addr{}, false
}

// allowsAddr reports whether the server may send to address (an IP
// literal; host names, mDNS names included, are never allowed).
func (cp *candidatePolicy) allowsAddr(address string) bool {
	a, err := netip.ParseAddr(address)
	if err != nil || a.Zone() != "" {
		return false
	}
	a = a.Unmap()
	if inAny(a, neverCandidates) || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	if v4, ok := embeddedIPv4(a); ok {
		if inAny(v4, neverCandidates) || !cp.allowsAddr(v4.String()) {
			return false
		}
		return true
	}
	return (cp.public && isPublic(a)) || inAny(a, cp.prefixes)
}

// parseCandidate parses an ICE candidate attribute (with or without the
// "candidate:" prefix) and reports whether the policy keeps it. The empty
// string (end of candidates) is kept.
func (cp *candidatePolicy) parseCandidate(raw string) (keep bool, err error) {
	raw = strings.TrimPrefix(raw, "candidate:")
	if raw == "" {
		return true, nil
	}
	c, err := ice.UnmarshalCandidate(raw)
	if err != nil {
		return false, err
	}
	return cp.allowsAddr(c.Address()), nil
}

// countCandidate counts a distinct remote candidate against the peer's
// budget. A candidate seen before on this PeerConnection (every
// renegotiation's answer repeats the client's candidates) is not counted
// again; the set is bounded by the budget itself.
func (p *peer) countCandidate(raw string) error {
	raw = strings.TrimSpace(strings.TrimPrefix(raw, "candidate:"))
	if p.lim.candPC != p.st.pc {
		p.lim.candPC, p.lim.seen = p.st.pc, nil
	}
	if _, ok := p.lim.seen[raw]; ok {
		return nil
	}
	if over(len(p.lim.seen), p.srv.lim.cfg.RemoteCandidates) {
		return &protocol.Error{Code: 400, Reason: protocol.ReasonTooManyCandidates,
			Message: fmt.Sprintf("at most %d ICE candidates per connection", p.srv.lim.cfg.RemoteCandidates)}
	}
	if p.lim.seen == nil {
		p.lim.seen = map[string]struct{}{}
	}
	p.lim.seen[raw] = struct{}{}
	return nil
}

// admitCandidate counts a trickled candidate and reports whether to hand it
// to pion (false with a nil error: ignored).
func (p *peer) admitCandidate(raw string) (bool, error) {
	if err := p.countCandidate(raw); err != nil {
		return false, err
	}
	keep, err := p.srv.lim.ice.parseCandidate(raw)
	if err != nil {
		return false, badMessage("candidate rejected: not an ICE candidate")
	}
	return keep, nil
}

// filterAnswer drops the answer's a=candidate lines the policy ignores (or
// that do not parse: pion would skip or refuse them), counting each against
// the peer's budget.
func (p *peer) filterAnswer(sdp string) (string, error) {
	if !strings.Contains(sdp, "a=candidate:") {
		return sdp, nil
	}
	var b strings.Builder
	inAnswer := map[string]bool{} // a line repeated within one answer is dropped
	for line := range strings.SplitAfterSeq(sdp, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "a=candidate:"); ok {
			k := strings.TrimSpace(v)
			if inAnswer[k] {
				continue
			}
			inAnswer[k] = true
			if err := p.countCandidate(v); err != nil {
				return "", err
			}
			if keep, err := p.srv.lim.ice.parseCandidate(v); err != nil || !keep {
				continue
			}
		}
		b.WriteString(line)
	}
	return b.String(), nil
}
