package main

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// proxyPolicy says whose word decoder takes on where a request came from.
// Behind a reverse proxy (nginx, HAProxy) every request arrives from the
// proxy; the proxy says who it forwards for in X-Forwarded-For or
// Forwarded. Those headers are believed only from the peers listed with
// -trusted-proxies: from anyone else they are whatever the client wrote.
// What decoder takes from them is the client's address, for logs and for
// telling viewers on this machine from others; the Host and Origin checks
// still look at the request itself (list the proxy's public names with
// -allowed-hosts).
type proxyPolicy struct {
	trusted []netip.Prefix
}

// parseTrustedProxies reads -trusted-proxies: CIDRs or single addresses.
func parseTrustedProxies(list []string) (proxyPolicy, error) {
	var p proxyPolicy
	for _, s := range list {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return p, fmt.Errorf("-trusted-proxies %q: want a CIDR such as 10.0.0.0/8 or an address such as 127.0.0.1", s)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		p.trusted = append(p.trusted, prefix.Masked())
	}
	return p, nil
}

func (p proxyPolicy) trusts(a netip.Addr) bool {
	for _, prefix := range p.trusted {
		if prefix.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// client is the address of whoever made r: its peer, or, when the peer is
// a trusted proxy, the nearest address in the forwarding chain that is not
// one (the chain's entries to the right of it were added by proxies decoder
// trusts, those to the left by whoever decoder cannot check). forwarded
// reports whether r says it came through a proxy at all.
func (p proxyPolicy) client(r *http.Request) (addr netip.Addr, forwarded bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	addr = peer.Addr().Unmap()
	chain := forwardedFor(r.Header)
	if len(chain) == 0 {
		return addr, false
	}
	for i := len(chain) - 1; i >= 0 && p.trusts(addr); i-- {
		next, err := netip.ParseAddr(chain[i])
		if err != nil {
			break
		}
		addr = next.Unmap()
	}
	return addr, true
}

// local reports whether r comes from this machine: its client is a
// loopback address, and if it says it was forwarded, only proxies decoder
// trusts forwarded it. A request forwarded by a proxy decoder does not
// trust is not local, even from a proxy on this machine: it speaks for
// someone else.
func (p proxyPolicy) local(r *http.Request) bool {
	addr, forwarded := p.client(r)
	if !addr.IsValid() || !addr.IsLoopback() {
		return false
	}
	if !forwarded {
		return true
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && p.trusts(peer.Addr())
}

// describe is the client's address for the log.
func (p proxyPolicy) describe(r *http.Request) string {
	addr, forwarded := p.client(r)
	if !addr.IsValid() {
		return r.RemoteAddr
	}
	if forwarded && addr.String() != hostOnly(r.RemoteAddr) {
		return addr.String() + " via " + r.RemoteAddr
	}
	return r.RemoteAddr
}

// forwardedFor is the chain of X-Forwarded-For, or of Forwarded's for=
// parameters, nearest proxy last.
func forwardedFor(h http.Header) []string {
	var chain []string
	for _, v := range h.Values("Forwarded") {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					val = strings.Trim(val, `"`)
					if host, _, err := net.SplitHostPort(val); err == nil {
						val = host
					}
					chain = append(chain, strings.Trim(val, "[]"))
				}
			}
		}
	}
	if len(chain) > 0 {
		return chain
	}
	for _, v := range h.Values("X-Forwarded-For") {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				chain = append(chain, a)
			}
		}
	}
	return chain
}
