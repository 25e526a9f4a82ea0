package main

import (
	"net"
	"strings"
)

// isLocalhostName reports whether host is "localhost" or a name under it.
// RFC 6761 reserves these names for this machine, and browsers resolve them
// to loopback without asking DNS, so they cannot be re-pointed elsewhere.
// Case is ignored and a trailing dot (the fully qualified spelling) is
// tolerated.
func isLocalhostName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// isLoopbackHost reports whether host (a name or an IP literal without
// brackets or port) names this machine only, so that traffic to it never
// leaves the machine.
func isLoopbackHost(host string) bool {
	if isLocalhostName(host) {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
