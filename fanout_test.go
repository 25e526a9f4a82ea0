//go:build linux

package main

import (
	"runtime"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestFanoutViewerCostsOneGoroutine: a viewer that keeps up is written by
// its stream's senders, so that it costs the server one goroutine, its
// reader, and not a writer of its own as well; and a viewer that does not
// keep up gets one only while it catches up.
func TestFanoutViewerCostsOneGoroutine(t *testing.T) {
	ts := startTestServer(t, nil)
	base := snapshot()
	const n = 100
	source := "demo-text://?interval=20ms"
	before := runtime.NumGoroutine()
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		c := dial(t, ts.liveURL(source))
		conns[i] = c
		if _, err := nextOfType(c, "data"); err != nil {
			t.Fatal(err)
		}
		// The client's side of each: one goroutine reading.
		keepReading(t, c)
	}
	// The server's side of each: the reader; and a sender per core for
	// the stream, and its producer.
	want := 2*n + 1 + runtime.GOMAXPROCS(0)
	waitFor(t, 5*time.Second, "viewers to settle", func() bool {
		return runtime.NumGoroutine()-before <= want
	})
	if ts.hub.metrics.viewers.Load() != n {
		t.Fatalf("%d viewers", ts.hub.metrics.viewers.Load())
	}
	t.Logf("%d goroutines for %d viewers and their clients", runtime.NumGoroutine()-before, n)

	// Frozen viewers, which read nothing, each hold a goroutine while
	// their writes wait, and give it back with the connection.
	frozen := dialRaw(t, ts, "demo-text://?interval=5ms&size=20000")
	waitFor(t, 5*time.Second, "the frozen viewer to join", func() bool {
		return ts.hub.metrics.viewers.Load() == n+1
	})
	waitFor(t, 5*time.Second, "the frozen viewer to be closed", func() bool {
		return ts.hub.metrics.viewers.Load() == n
	})
	frozen.Close()
	for _, c := range conns {
		c.CloseNow()
	}
	ts.expectDrained(t, base)
}
