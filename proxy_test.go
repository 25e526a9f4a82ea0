package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestProxyPolicy: forwarding headers are believed from trusted proxies
// only, and a request forwarded by anyone else is never taken for one from
// this machine.
func TestProxyPolicy(t *testing.T) {
	trusted, err := parseTrustedProxies([]string{"127.0.0.1", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		policy  proxyPolicy
		peer    string
		headers map[string]string
		client  string
		local   bool
	}{
		{"direct loopback", trusted, "127.0.0.1:5000", nil, "127.0.0.1", true},
		{"direct LAN", trusted, "192.168.1.5:5000", nil, "192.168.1.5", false},
		{"trusted proxy for a LAN client", trusted, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "192.168.1.5"}, "192.168.1.5", false},
		{"chain through two trusted proxies", trusted, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.9, 10.1.2.3"}, "203.0.113.9", false},
		{"spoofed left of the chain", trusted, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "127.0.0.1, 203.0.113.9"}, "203.0.113.9", false},
		{"trusted proxy for a local client", trusted, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "127.0.0.1"}, "127.0.0.1", true},
		{"Forwarded header", trusted, "10.0.0.1:5000", map[string]string{"Forwarded": `for="[2001:db8::1]:4711";proto=https`}, "2001:db8::1", false},
		{"untrusted peer's header ignored", trusted, "192.168.1.5:5000", map[string]string{"X-Forwarded-For": "127.0.0.1"}, "192.168.1.5", false},
		{"no trusted proxies: local peer forwarding is not local", proxyPolicy{}, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "192.168.1.5"}, "127.0.0.1", false},
		{"garbage in the chain", trusted, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "not-an-ip"}, "127.0.0.1", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if got, _ := tc.policy.client(r); got.String() != tc.client {
				t.Errorf("client %s, want %s", got, tc.client)
			}
			if got := tc.policy.local(r); got != tc.local {
				t.Errorf("local %v, want %v", got, tc.local)
			}
		})
	}
	if _, err := parseTrustedProxies([]string{"nonsense"}); err == nil {
		t.Error("a bad -trusted-proxies was accepted")
	}
}

// TestProxiedRequestsNeedTokens: a request a proxy on this machine
// forwards for someone else is not one from this machine: without a
// token it is refused, unless a trusted proxy says it was forwarded for
// this machine itself.
func TestProxiedRequestsNeedTokens(t *testing.T) {
	for _, tc := range []struct {
		name      string
		trusted   []string
		forwarded string
		want      int
	}{
		{"not forwarded", nil, "", http.StatusOK},
		{"forwarded by a proxy not trusted", nil, "203.0.113.7", http.StatusUnauthorized},
		{"forwarded for this machine by a proxy not trusted", nil, "127.0.0.1", http.StatusUnauthorized},
		{"forwarded for another machine by a trusted proxy", []string{"127.0.0.1"}, "203.0.113.7", http.StatusUnauthorized},
		{"forwarded for this machine by a trusted proxy", []string{"127.0.0.1"}, "127.0.0.1", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := testHandler(t, func(cfg *Config) { cfg.TrustedProxies = tc.trusted })
			r := localRequest(http.MethodGet, "/streams")
			if tc.forwarded != "" {
				r.Header.Set("X-Forwarded-For", tc.forwarded)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("GET /streams: %d %s, want %d", w.Code, w.Body, tc.want)
			}
		})
	}
}
