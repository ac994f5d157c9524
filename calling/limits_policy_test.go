package calling

import (
	"testing"
)

// The candidate policy, address by address: the default from the server's
// ICE addresses, explicit networks, and what is refused whatever they say.
func TestCandidatePolicy(t *testing.T) {
	never := []string{"169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "100.100.100.200", "168.63.129.16",
		"0.0.0.0", "::", "224.0.0.251", "ff02::fb", "255.255.255.255", "::ffff:169.254.169.254",
		"64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "64:ff9b:1::1", "abcd-1234.local", "example.com", "fe80::1%eth0"}
	for _, tc := range []struct {
		name      string
		networks  []string
		media     MediaConfig
		allow     []string
		refuse    []string
		refuseAll bool
	}{
		{name: "loopback ICE address: itself only", media: MediaConfig{ICEIPs: []string{"127.0.0.1"}},
			allow:  []string{"127.0.0.1", "::ffff:127.0.0.1"},
			refuse: []string{"127.0.0.2", "10.0.0.5", "192.168.1.10", "8.8.8.8", "::1", "2001:4860::8888"}},
		{name: "private ICE address: its subnet", media: MediaConfig{ICEIPs: []string{"10.99.1.4"}},
			allow:  []string{"10.99.1.200"},
			refuse: []string{"10.99.2.1", "127.0.0.1", "8.8.8.8"}},
		{name: "NAT 1:1 public address: the public internet", media: MediaConfig{ICEIPs: []string{"127.0.0.1"}, NAT1To1IPs: []string{"203.0.113.7"}},
			allow:  []string{"8.8.8.8", "2001:4860::8888", "64:ff9b::808:808", "127.0.0.1"},
			refuse: []string{"10.0.0.5", "100.64.0.1", "fd12::1", "127.0.0.2", "64:ff9b::a00:5"}},
		{name: "public keyword", networks: []string{"public"},
			allow:  []string{"8.8.8.8", "2001:4860::8888", "2002:808:808::1"},
			refuse: []string{"10.0.0.5", "172.16.0.1", "192.168.0.1", "127.0.0.1", "198.18.0.1", "2001:db8::1"}},
		{name: "everything configured", networks: []string{"0.0.0.0/0", "::/0", "169.254.0.0/16"},
			allow: []string{"8.8.8.8", "10.0.0.5", "127.0.0.2", "::1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp, err := newCandidatePolicy(tc.networks, tc.media)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range tc.allow {
				if !cp.allowsAddr(a) {
					t.Errorf("%s refused", a)
				}
			}
			for _, a := range append(tc.refuse, never...) {
				if cp.allowsAddr(a) {
					t.Errorf("%s allowed", a)
				}
			}
		})
	}
	if _, err := newCandidatePolicy([]string{"10.0.0.0"}, MediaConfig{}); err == nil {
		t.Error("a network without a prefix length was accepted")
	}
	if _, err := newCandidatePolicy(nil, MediaConfig{ICEIPs: []string{"nope"}}); err == nil {
		t.Error("a bad ICE address was accepted")
	}
}

// Candidate strings: parsed by pion's parser; what does not parse is an
// error, end-of-candidates is kept, host names are ignored.
func TestParseCandidate(t *testing.T) {
	cp, _ := newCandidatePolicy(nil, MediaConfig{ICEIPs: []string{"127.0.0.1"}})
	for _, tc := range []struct {
		raw      string
		keep, ok bool
	}{
		{"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", true, true},
		{"1 1 udp 2130706431 127.0.0.1 5000 typ host", true, true},
		{"candidate:1 1 udp 1694498815 127.0.0.1 5000 typ srflx raddr 169.254.169.254 rport 80", true, true},
		{"candidate:1 1 udp 1694498815 169.254.169.254 80 typ srflx raddr 127.0.0.1 rport 5000", false, true},
		{"candidate:1 1 udp 2130706431 x.local 5000 typ host", false, true},
		{"", true, true},
		{"candidate:", true, true},
		{"garbage", false, false},
		{"candidate:1 1 udp 2130706431 metadata.google.internal 80 typ host", false, false},
	} {
		keep, err := cp.parseCandidate(tc.raw)
		if keep != tc.keep || (err == nil) != tc.ok {
			t.Errorf("%q: keep %v err %v", tc.raw, keep, err)
		}
	}
}
