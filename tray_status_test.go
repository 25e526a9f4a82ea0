package main

import (
	"slices"
	"testing"
	"time"
)

func TestStatusLine(t *testing.T) {
	live := streamSummary{state: stateLive}
	down := streamSummary{state: stateReconnecting}
	for _, tc := range []struct {
		sum  hubSummary
		want string
	}{
		{hubSummary{}, "解码器 — idle"},
		{hubSummary{viewers: 1, streams: []streamSummary{live}}, "解码器 — 1 camera, 1 viewer"},
		{hubSummary{viewers: 7, streams: []streamSummary{live, live, down}}, "解码器 — 3 cameras, 7 viewers, 1 reconnecting"},
		// A lingering source keeps pulling its camera with no viewer.
		{hubSummary{streams: []streamSummary{live}}, "解码器 — 1 camera, 0 viewers"},
	} {
		if got := statusLine(tc.sum); got != tc.want {
			t.Errorf("statusLine(%+v) = %q, want %q", tc.sum, got, tc.want)
		}
	}
}

func TestTrayViewTrouble(t *testing.T) {
	sum := hubSummary{viewers: 2, streams: []streamSummary{
		{display: "rtsp://***@cam1/a", state: stateLive},
		{display: "rtsp://***@cam2/b", state: stateReconnecting, reason: "cannot reach the camera: connect: connection refused"},
	}}
	v := viewOf(sum)
	want := []string{"rtsp://***@cam2/b: cannot reach the camera: connect: connection refused"}
	if !slices.Equal(v.trouble, want) {
		t.Errorf("trouble = %q, want %q", v.trouble, want)
	}
	if !v.equal(viewOf(sum)) {
		t.Error("the same summary gives views that differ")
	}
	sum.streams[1].reason = "stalled"
	if v.equal(viewOf(sum)) {
		t.Error("a new reason does not change the view")
	}
}

func TestRecentSources(t *testing.T) {
	var r recentSources
	at := func(keys ...string) hubSummary {
		var sum hubSummary
		for _, k := range keys {
			sum.streams = append(sum.streams, streamSummary{key: k, display: k + "*"})
		}
		return sum
	}
	if !r.observe(at("a", "b")) || r.observe(at("a", "b")) || r.observe(at()) {
		t.Fatal("observe reports a change only when a new source appears")
	}
	for _, k := range []string{"c", "d", "e", "f"} {
		r.observe(at(k))
	}
	r.observe(at("c")) // still listed: keeps its place
	if r.observe(at("rtsp://admin:secret@cam/x", "rtsp://admin@cam/y (udp)")) {
		t.Error("a source with credentials is listed: opening it would put them in the page's address")
	}
	var keys []string
	for _, it := range r.items {
		keys = append(keys, it.key)
	}
	if want := []string{"f", "e", "d", "c", "b"}; !slices.Equal(keys, want) {
		t.Errorf("recent = %v, want %v (newest first, at most %d)", keys, want, recentMax)
	}
	if got, want := pageFor("http://127.0.0.1:3000", "rtsp://u:p@cam/x?a=1 (udp)"), "http://127.0.0.1:3000/?src=rtsp%3A%2F%2Fu%3Ap%40cam%2Fx%3Fa%3D1"; got != want {
		t.Errorf("pageFor = %q, want %q", got, want)
	}
}

// TestOutageNotifications: a camera that was live and has been
// reconnecting for a minute is notified once, then not again within the
// hour however often it drops; one that never played is not.
func TestOutageNotifications(t *testing.T) {
	var w outageWatch
	t0 := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	cam := func(state string) hubSummary {
		return hubSummary{streams: []streamSummary{{key: "rtsp://cam", state: state}, {key: "rtsp://never", state: stateReconnecting}}}
	}
	step := func(at time.Duration, state string, want int) {
		t.Helper()
		if got := w.observe(cam(state), t0.Add(at)); len(got) != want {
			t.Errorf("at %v (%s): %d notifications, want %d", at, state, len(got), want)
		}
	}
	step(0, stateLive, 0)
	step(time.Second, stateReconnecting, 0)
	step(59*time.Second, stateReconnecting, 0)
	step(61*time.Second, stateReconnecting, 1)
	step(62*time.Second, stateReconnecting, 0)
	step(2*time.Minute, stateLive, 0)
	step(3*time.Minute, stateReconnecting, 0)
	step(5*time.Minute, stateReconnecting, 0) // within the hour
	step(62*time.Minute, stateReconnecting, 1)
	// A source that stopped and came back must play again to count.
	w.observe(hubSummary{}, t0.Add(63*time.Minute))
	step(3*time.Hour, stateReconnecting, 0)
	step(3*time.Hour+2*time.Minute, stateReconnecting, 0)
	if len(w.cams) != 2 {
		t.Errorf("following %d cameras, want 2", len(w.cams))
	}
	w.observe(hubSummary{}, t0.Add(5*time.Hour))
	if len(w.cams) != 0 {
		t.Errorf("still following %d cameras after they stopped", len(w.cams))
	}
}

func TestShorten(t *testing.T) {
	if got := shorten("摄像头摄像头", 4); got != "摄像头…" {
		t.Errorf("shorten = %q", got)
	}
	if got := shorten("abc", 3); got != "abc" {
		t.Errorf("shorten = %q", got)
	}
}
