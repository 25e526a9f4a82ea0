package main

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// defaultOrigins are the page origins allowed without configuration: pages
// served from this machine. decoder's own origin is always allowed too.
var defaultOrigins = []string{
	"http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*",
	"https://localhost:*", "https://127.0.0.1:*", "https://[::1]:*",
}

// originPattern is one allowed origin: scheme://host[:port], where host may
// start with "*." and port may be "*". The lone pattern "*" allows any
// origin; "null" allows the opaque origin of file:// and sandboxed pages.
type originPattern struct {
	any, null          bool
	scheme, host, port string
}

func parseOriginPattern(s string) (originPattern, bool) {
	switch s = strings.ToLower(strings.TrimSpace(s)); s {
	case "*":
		return originPattern{any: true}, true
	case "null":
		return originPattern{null: true}, true
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" || rest == "" || strings.ContainsAny(rest, "/?#@") {
		return originPattern{}, false
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		host, port = strings.Trim(rest, "[]"), defaultPorts[scheme]
	}
	return originPattern{scheme: scheme, host: host, port: port}, true
}

// defaultPorts fill in the port an origin leaves out.
var defaultPorts = map[string]string{"http": "80", "https": "443"}

func (p originPattern) match(scheme, host, port string) bool {
	switch {
	case p.any:
		return true
	case p.null:
		return false
	case p.scheme != scheme:
		return false
	case p.port != "*" && p.port != port:
		return false
	case strings.HasPrefix(p.host, "*."):
		return strings.HasSuffix(host, p.host[1:])
	default:
		return p.host == host
	}
}

// originPolicy decides which page origins may use decoder. It guards both
// CORS and the WebSocket handshake, because WebSocket has no CORS of its own
// and any page the user visits can try ws://127.0.0.1.
type originPolicy struct {
	patterns []originPattern
	// invalid lists configured patterns that could not be parsed, for a
	// start-up error.
	invalid []string
}

func newOriginPolicy(extra []string) originPolicy {
	var op originPolicy
	for _, s := range append(append([]string(nil), defaultOrigins...), extra...) {
		if p, ok := parseOriginPattern(s); ok {
			op.patterns = append(op.patterns, p)
		} else {
			op.invalid = append(op.invalid, s)
		}
	}
	return op
}

// allows reports whether a page at origin may talk to decoder reached as
// requestHost. An origin equal to the request's own is always allowed.
func (op originPolicy) allows(origin, requestHost string) bool {
	if origin == "null" {
		for _, p := range op.patterns {
			if p.null || p.any {
				return true
			}
		}
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil {
		return false
	}
	if strings.EqualFold(u.Host, requestHost) {
		return true
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = defaultPorts[scheme]
	}
	for _, p := range op.patterns {
		if p.match(scheme, host, port) {
			return true
		}
	}
	return false
}

// corsMethods and corsHeaders are what a preflight may ask for.
const (
	corsMethods = "GET, HEAD, OPTIONS"
	corsHeaders = "Content-Type, Authorization, Cache-Control"
)

// withCORS answers CORS for allowed origins and refuses preflights from
// others. Requests from other origins still reach the handler, without CORS
// headers, so the browser keeps their answers from the page; /live checks
// the origin itself because browsers do not apply CORS to WebSocket.
func withCORS(op originPolicy) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			if origin == "" {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Add("Vary", "Origin")
			preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
			if !op.allows(origin, r.Host) {
				if preflight {
					writeError(w, http.StatusForbidden, "origin %s is not allowed; start decoder with -allowed-origins %s to allow it", origin, origin)
					return
				}
				next.ServeHTTP(w, r)
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			if !preflight {
				next.ServeHTTP(w, r)
				return
			}
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", "600")
			if strings.EqualFold(r.Header.Get("Access-Control-Request-Private-Network"), "true") {
				h.Set("Access-Control-Allow-Private-Network", "true")
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
}

// withHostCheck refuses requests whose Host header names something other
// than an IP literal, localhost or a configured name. A page on a domain that
// an attacker re-points at 127.0.0.1 (DNS rebinding) is same-origin with
// itself, so no Origin check would stop it; the Host header still carries the
// attacker's name.
func withHostCheck(allowed []string) func(http.Handler) http.Handler {
	names := make(map[string]bool, len(allowed))
	for _, n := range allowed {
		names[strings.ToLower(strings.TrimSpace(n))] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !hostAllowed(r.Host, names) {
				writeError(w, http.StatusForbidden, "host %q is not allowed; start decoder with -allowed-hosts %s to allow it", r.Host, hostOnly(r.Host))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

func hostAllowed(hostport string, names map[string]bool) bool {
	host := strings.ToLower(strings.TrimSuffix(hostOnly(hostport), "."))
	switch {
	case host == "":
		// HTTP/1.0 without Host: no browser sends this, so no rebinding.
		return true
	case net.ParseIP(host) != nil:
		return true
	case isLocalhostName(host):
		return true
	}
	return names[host]
}
