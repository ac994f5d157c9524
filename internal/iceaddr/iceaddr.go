// Package iceaddr parses the addresses ICE may use and builds the pion IP
// filter that keeps candidates to them (the server's MediaConfig.ICEIPs and
// the Go client's NewAPI share it).
package iceaddr

import (
	"fmt"
	"net"
)

// Parse parses ips and reports whether any is a loopback address (pion then
// needs SetIncludeLoopbackCandidate(true) to offer it).
func Parse(ips []string) (addrs []net.IP, loopback bool, err error) {
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, false, fmt.Errorf("%q is not an IP address", s)
		}
		addrs = append(addrs, ip)
		loopback = loopback || ip.IsLoopback()
	}
	return addrs, loopback, nil
}

// Filter keeps exactly the given addresses.
func Filter(allowed []net.IP) func(net.IP) bool {
	return func(ip net.IP) bool {
		for _, a := range allowed {
			if a.Equal(ip) {
				return true
			}
		}
		return false
	}
}
