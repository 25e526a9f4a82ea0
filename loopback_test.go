package main

import "testing"

func TestLoopbackHosts(t *testing.T) {
	tests := []struct {
		host                string
		localhost, loopback bool
	}{
		{"localhost", true, true},
		{"LocalHost", true, true},
		{"localhost.", true, true},
		{"app.localhost", true, true},
		{"APP.LOCALHOST.", true, true},
		{"localhost.example", false, false},
		{"notlocalhost", false, false},
		{"example.com", false, false},
		{"", false, false},
		{"127.0.0.1", false, true},
		{"127.1.2.3", false, true},
		{"::1", false, true},
		{"::ffff:127.0.0.1", false, true},
		{"[::1]", false, false},
		{"192.0.2.1", false, false},
		{"0.0.0.0", false, false},
		{"::", false, false},
	}
	for _, tt := range tests {
		if got := isLocalhostName(tt.host); got != tt.localhost {
			t.Errorf("isLocalhostName(%q) = %v, want %v", tt.host, got, tt.localhost)
		}
		if got := isLoopbackHost(tt.host); got != tt.loopback {
			t.Errorf("isLoopbackHost(%q) = %v, want %v", tt.host, got, tt.loopback)
		}
	}
}
