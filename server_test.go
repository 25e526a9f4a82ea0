package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRoutesAndEnvelope(t *testing.T) {
	h := testHandler(t, nil)
	cases := []struct {
		method, path string
		status       int
		message      string // for error envelopes
		data         any
	}{
		{"GET", "/version", 200, "OK", Version},
		{"HEAD", "/version", 200, "", nil},
		{"GET", "/x", 404, "not found: /x", nil},
		{"GET", "/version/extra", 404, "not found: /version/extra", nil},
		{"POST", "/version", 405, "method POST not allowed on /version; use GET", nil},
		{"DELETE", "/streams", 405, "method DELETE not allowed on /streams; use GET", nil},
		{"GET", "/streams", 200, "OK", []any{}},
		{"GET", "/live", 426, "/live is a WebSocket endpoint", nil},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, localRequest(tc.method, tc.path))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			if tc.method == "HEAD" {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var env struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Data    any    `json:"data"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if env.Code != tc.status || !strings.HasPrefix(env.Message, tc.message) {
				t.Errorf("envelope %+v, want code %d message %q", env, tc.status, tc.message)
			}
			if tc.status >= 400 && env.Data != nil {
				t.Errorf("error envelope carries data %v", env.Data)
			}
			if tc.data != nil {
				want, _ := json.Marshal(tc.data)
				got, _ := json.Marshal(env.Data)
				if string(got) != string(want) {
					t.Errorf("data %s, want %s", got, want)
				}
			}
		})
	}
	t.Run("malformed handshakes", func(t *testing.T) {
		for _, tc := range []struct {
			version, key string
			status       int
		}{
			{"8", "dGhlIHNhbXBsZSBub25jZQ==", 426},
			{"13", "", 400},
			{"13", "c2hvcnQ=", 400},
		} {
			req := localRequest("GET", "/live?url=demo-text://")
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Sec-WebSocket-Version", tc.version)
			req.Header.Set("Sec-WebSocket-Key", tc.key)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.HasPrefix(rec.Body.String(), fmt.Sprintf(`{"code":%d,`, tc.status)) {
				t.Errorf("version %q key %q: %d %s, want %d in the envelope", tc.version, tc.key, rec.Code, rec.Body, tc.status)
			}
		}
	})
	t.Run("page", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, localRequest("GET", "/"))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), Version) || !strings.Contains(rec.Body.String(), "/live?url=") {
			t.Errorf("page: %d, version or /live usage missing", rec.Code)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, localRequest("GET", "/metrics"))
		for _, name := range []string{"decoder_viewers ", "decoder_producers ", "decoder_dropped_messages_total ", "decoder_slow_viewers_closed_total ", "go_goroutines ", "process_open_fds "} {
			if !strings.Contains(rec.Body.String(), "\n"+name) {
				t.Errorf("/metrics lacks %s", name)
			}
		}
	})
}

func TestCORS(t *testing.T) {
	h := testHandler(t, func(c *Config) { c.AllowedOrigins = []string{"https://app.example.com", "http://*.corp.test:*"} })
	cases := []struct {
		name, method, origin string
		headers              map[string]string
		status               int
		allowOrigin          string
		privateNetwork       bool
	}{
		{"no origin", "GET", "", nil, 200, "", false},
		{"loopback page", "GET", "http://localhost:5173", nil, 200, "http://localhost:5173", false},
		{"ipv6 loopback page", "GET", "http://[::1]:8000", nil, 200, "http://[::1]:8000", false},
		{"own origin", "GET", "http://127.0.0.1:3000", nil, 200, "http://127.0.0.1:3000", false},
		{"configured origin", "GET", "https://app.example.com", nil, 200, "https://app.example.com", false},
		{"configured wildcard", "GET", "http://cams.corp.test:8080", nil, 200, "http://cams.corp.test:8080", false},
		{"other origin gets no CORS", "GET", "https://evil.example", nil, 200, "", false},
		{"lookalike origin", "GET", "http://localhost.evil.example", nil, 200, "", false},
		{"null origin", "GET", "null", nil, 200, "", false},
		{"preflight allowed", "OPTIONS", "http://localhost:5173", map[string]string{"Access-Control-Request-Method": "GET"}, 204, "http://localhost:5173", false},
		{"preflight private network", "OPTIONS", "https://app.example.com", map[string]string{"Access-Control-Request-Method": "GET", "Access-Control-Request-Private-Network": "true"}, 204, "https://app.example.com", true},
		{"preflight refused", "OPTIONS", "https://evil.example", map[string]string{"Access-Control-Request-Method": "GET", "Access-Control-Request-Private-Network": "true"}, 403, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "http://127.0.0.1:3000/version", nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tc.allowOrigin {
				t.Errorf("Allow-Origin %q, want %q", got, tc.allowOrigin)
			}
			if got := rec.Header().Get("Access-Control-Allow-Private-Network") == "true"; got != tc.privateNetwork {
				t.Errorf("Allow-Private-Network %v, want %v", got, tc.privateNetwork)
			}
			if tc.origin != "" && !strings.Contains(strings.Join(rec.Header().Values("Vary"), ","), "Origin") {
				t.Error("no Vary: Origin")
			}
			if tc.status == 204 && rec.Header().Get("Access-Control-Allow-Methods") == "" {
				t.Error("preflight without Allow-Methods")
			}
		})
	}
}

func TestHostCheck(t *testing.T) {
	h := testHandler(t, func(c *Config) { c.AllowedHosts = []string{"decoder.lan"} })
	cases := []struct {
		host   string
		status int
	}{
		{"127.0.0.1:3000", 200},
		{"localhost:3000", 200},
		{"app.localhost", 200},
		{"[::1]:3000", 200},
		{"192.168.1.20:3000", 200},
		{"decoder.lan:3000", 200},
		{"DECODER.LAN", 200},
		{"evil.example:3000", 403},
		{"localhost.evil.example", 403},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/version", nil)
			req.Host = tc.host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("Host %s: status %d, want %d (%s)", tc.host, rec.Code, tc.status, rec.Body)
			}
			if tc.status == 403 && !strings.Contains(rec.Body.String(), "-allowed-hosts") {
				t.Errorf("refusal does not say how to allow: %s", rec.Body)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		addr    string
		wantErr string
	}{
		{"defaults", nil, nil, "127.0.0.1:3000", ""},
		{"PORT", nil, map[string]string{"PORT": "8080"}, "127.0.0.1:8080", ""},
		{"addr with port wins over PORT", []string{"-addr", "0.0.0.0:9000"}, map[string]string{"PORT": "8080"}, "0.0.0.0:9000", ""},
		{"env addr", nil, map[string]string{"DECODER_ADDR": "::1"}, "[::1]:3000", ""},
		{"env sets a flag", nil, map[string]string{"DECODER_LINGER": "2s"}, "127.0.0.1:3000", ""},
		{"flag wins over env", []string{"-linger", "1s"}, map[string]string{"DECODER_LINGER": "2s"}, "127.0.0.1:3000", ""},
		{"flag wins over an invalid env", []string{"-linger", "1s"}, map[string]string{"DECODER_LINGER": "zzz"}, "127.0.0.1:3000", ""},
		{"invalid env", nil, map[string]string{"DECODER_LINGER": "zzz"}, "", `invalid DECODER_LINGER="zzz"`},
		{"budget too small", []string{"-buffer-budget", "1000"}, nil, "", "-buffer-budget must be at least 8 MiB"},
		{"bad PORT", nil, map[string]string{"PORT": "http"}, "", "invalid PORT"},
		{"bad duration", []string{"-ping-interval", "0s"}, nil, "", "-ping-interval must be positive"},
		{"stray argument", []string{"serve"}, nil, "", `unexpected argument "serve"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseConfig(tc.args, env(tc.env), io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Addr != tc.addr {
				t.Errorf("addr %q, want %q", cfg.Addr, tc.addr)
			}
			wantLinger := 5 * time.Second
			if tc.env["DECODER_LINGER"] == "2s" {
				wantLinger = 2 * time.Second
			}
			if slices.Contains(tc.args, "-linger") {
				wantLinger = time.Second
			}
			if cfg.Live.Linger != wantLinger {
				t.Errorf("linger %v, want %v", cfg.Live.Linger, wantLinger)
			}
		})
	}
	if _, err := NewServer(Config{AllowedOrigins: []string{"example.com/path"}, Live: testLiveConfig()}, slog.Default()); err == nil {
		t.Error("an invalid origin pattern was accepted")
	}
}
