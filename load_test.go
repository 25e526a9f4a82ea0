package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"-url", "ws://127.0.0.1:3000/live?url=demo://"}, ""},
		{[]string{"-url", "ws://localhost:3000/live?url=demo://"}, ""},
		{[]string{"-url", "ws://[::1]:3000/live?url=demo://"}, ""},
		{[]string{"-url", "ws://192.0.2.1:3000/live?url=demo://"}, "not this machine"},
		{[]string{"-url", "ws://example.com/live", "-allow-remote"}, ""},
		{[]string{"-url", "http://127.0.0.1:3000/live"}, "ws:// or wss://"},
		{[]string{"-viewers", "0"}, "nothing to do"},
		{[]string{"-viewers", "200000"}, "at most 100000"},
		{[]string{"-viewers", "-1"}, "must not be negative"},
		{[]string{"-duration", "2h"}, "-duration must be"},
		{[]string{"-slow", "1", "-slow-rate", "1.5"}, "-slow-rate"},
		{[]string{"extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		_, err := parseLoadConfig(tt.args, io.Discard)
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%v: got %v, want %q", tt.args, err, tt.err)
		}
	}
}

// TestLoadReports runs the load generator against a real server with a
// few viewers of each kind and checks what it reports.
func TestLoadReports(t *testing.T) {
	ts := startTestServer(t, nil)
	base := snapshot()
	cfg, err := parseLoadConfig([]string{
		"-url", ts.liveURL("demo-text://?interval=20ms&size=4000"),
		"-viewers", "20", "-ramp", "200ms", "-duration", "3s",
		"-silent", "2", "-frozen", "2",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r, err := loadTarget(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	r.print(&out)
	t.Log("\n" + out.String())
	for _, line := range []string{"\nviewers     24 connected, 0 failed\n", "\nfrozen      2 stopped reading", "\nsilent      2: closed by the server after"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("printed report lacks %q", line)
		}
	}
	if r.Connected != 24 || r.Failed != 0 {
		t.Errorf("connected %d, failed %d, want 24 and 0", r.Connected, r.Failed)
	}
	if r.DelayMS.Count == 0 || r.FirstMediaMS.Count != 20 || r.MessagesPerSec < 20*10 {
		t.Errorf("delays %+v, first media %+v, %.0f messages/s: healthy viewers got too little", r.DelayMS, r.FirstMediaMS, r.MessagesPerSec)
	}
	if r.Silent == nil || r.Silent.StillOpen != 0 {
		t.Errorf("silent viewers %+v: the server must have closed them (ping %v + pong %v)", r.Silent, ts.cfg.Live.PingInterval, ts.cfg.Live.PongTimeout)
	}
	if r.MisbehavingClosedAfterMS == 0 {
		t.Errorf("the server's viewer count never showed the frozen and silent viewers gone")
	}
	if s := r.Server; s == nil || s.ViewersAfter != 0 || s.GoroutinesDelta > 0 || s.FDsDelta > 0 {
		t.Errorf("server report %+v: want no viewer, goroutine or fd left", s)
	}

	cfg, _ = parseLoadConfig([]string{"-url", ts.liveURL("demo-text://?interval=20ms"), "-viewers", "0", "-churn", "2", "-churn-total", "200", "-duration", "10s"}, io.Discard)
	r, err = loadTarget(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Churn == nil || r.Churn.Cycles < 200 || r.Churn.Failed != 0 || r.Churn.PerSecond <= 0 {
		t.Errorf("churn %+v, want 200 cycles and none failed", r.Churn)
	}
	if s := r.Server; s == nil || s.ViewersAfter != 0 || s.GoroutinesDelta > 0 || s.FDsDelta > 0 {
		t.Errorf("server report after churn %+v: want no viewer, goroutine or fd left", s)
	}
	ts.expectDrained(t, base)
}
