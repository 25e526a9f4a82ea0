package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
)

// testLiveConfig has timings short enough for tests and otherwise the
// defaults' shape: a dead peer is found in PingInterval+PongTimeout.
func testLiveConfig() LiveConfig {
	return LiveConfig{
		Linger:              100 * time.Millisecond,
		PingInterval:        300 * time.Millisecond,
		PongTimeout:         300 * time.Millisecond,
		WriteTimeout:        500 * time.Millisecond,
		MaxBacklog:          200 * time.Millisecond,
		MaxLag:              time.Second,
		StatsInterval:       200 * time.Millisecond,
		MaxMessageBytes:     64 << 10,
		SendBuffer:          16 << 10,
		MaxViewers:          10000,
		MaxViewersPerSource: 10000,
		MaxSources:          64,
		Sources: SourceConfig{
			Timeout:  2 * time.Second,
			RetryMin: 100 * time.Millisecond,
			RetryMax: 500 * time.Millisecond,
		},
	}
}

// testServer is a real decoder server on a loopback port.
type testServer struct {
	*Server
	base string // http://127.0.0.1:port
	ws   string // ws://127.0.0.1:port
}

func startTestServer(t testing.TB, mutate func(*Config)) *testServer {
	t.Helper()
	cfg := Config{Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second, Live: testLiveConfig()}
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := NewServer(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, base: srv.URL(), ws: "ws" + strings.TrimPrefix(srv.URL(), "http")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-srv.Failed()
	})
	return ts
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (ts *testServer) liveURL(source string) string {
	return ts.ws + "/live?url=" + url.QueryEscape(source)
}

// resources are what a leak would show in.
type resources struct{ goroutines, fds int }

func snapshot() resources {
	p, _ := readProcStats()
	return resources{runtime.NumGoroutine(), p.openFDs}
}

// expectDrained waits until the server has no viewers and no producers and
// goroutines and file descriptors are back to base.
func (ts *testServer) expectDrained(t testing.TB, base resources) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		now := snapshot()
		m := &ts.hub.metrics
		viewers, producers := m.viewers.Load(), m.producers.Load()
		if viewers == 0 && producers == 0 && now.goroutines <= base.goroutines && now.fds <= base.fds {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained: viewers=%d producers=%d goroutines=%d (base %d) fds=%d (base %d)\n%s",
				viewers, producers, now.goroutines, base.goroutines, now.fds, base.fds, allStacks())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dial connects a coder/websocket client.
func dial(t testing.TB, u string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	c.SetReadLimit(4 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// serverMessage is any JSON message of /live.
type serverMessage struct {
	Type     string `json:"type"`
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Code     int    `json:"code"`
	Message  string `json:"message"`
	Seq      uint64 `json:"seq"`
	TS       int64  `json:"ts"`
	Drops    uint64 `json:"drops"`
	Messages uint64 `json:"messages"`
	ID       int    `json:"id"`
}

// readMessage reads the next text message.
func readMessage(t testing.TB, c *websocket.Conn) serverMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m serverMessage
	if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil {
		t.Fatalf("unexpected message %v %q", typ, data)
	}
	return m
}

// readUntil reads messages until one of type typ, and returns it.
func readUntil(t testing.TB, c *websocket.Conn, typ string) serverMessage {
	t.Helper()
	for {
		if m := readMessage(t, c); m.Type == typ {
			return m
		}
	}
}

// readClose reads until the connection closes and returns its close error.
func readClose(t testing.TB, c *websocket.Conn, timeout time.Duration) (websocket.CloseError, []serverMessage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var msgs []serverMessage
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("connection ended without a close frame: %v", err)
			}
			return ce, msgs
		}
		var m serverMessage
		json.Unmarshal(data, &m)
		msgs = append(msgs, m)
	}
}

// rawConn is a WebSocket client written by hand, free to misbehave.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

// dialRaw performs the handshake and returns the connection untouched.
func dialRaw(t testing.TB, ts *testServer, source string) *rawConn {
	t.Helper()
	u, _ := url.Parse(ts.liveURL(source))
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	writeHandshake(c, u)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	c.SetReadDeadline(time.Time{})
	return &rawConn{Conn: c, br: br}
}

// writeHandshake sends a minimal, valid WebSocket upgrade request for u.
func writeHandshake(c net.Conn, u *url.URL) {
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", u.RequestURI(), u.Host)
}

// waitClosedByServer reads and discards until the server ends the
// connection, and fails if that takes longer than timeout.
func (rc *rawConn) waitClosedByServer(t testing.TB, timeout time.Duration) {
	t.Helper()
	rc.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, rc.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server did not close the connection within %v", timeout)
	}
}

// maskedFrame builds a client frame.
func maskedFrame(opcode byte, payload []byte) []byte {
	f := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	key := []byte{1, 2, 3, 4}
	f = append(f, key...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

// A viewer that leaves in any way, politely or not, costs nothing after it
// is gone: its goroutines, its socket and its share of the producer end.
func TestLiveViewerLeaves(t *testing.T) {
	cfg := testLiveConfig()
	deadPeer := cfg.PingInterval + cfg.PongTimeout
	const source = "demo-text://?interval=5ms&size=4096"
	cases := []struct {
		name  string
		leave func(t *testing.T, ts *testServer)
	}{
		{"closes properly", func(t *testing.T, ts *testServer) {
			c := dial(t, ts.liveURL(source))
			readUntil(t, c, "data")
			if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
				t.Errorf("close: %v", err)
			}
		}},
		{"drops TCP without a close frame", func(t *testing.T, ts *testServer) {
			rc := dialRaw(t, ts, source)
			rc.br.ReadByte()
			rc.Close()
		}},
		{"resets the connection", func(t *testing.T, ts *testServer) {
			rc := dialRaw(t, ts, source)
			rc.br.ReadByte()
			rc.Conn.(*net.TCPConn).SetLinger(0)
			rc.Close()
		}},
		{"stops reading", func(t *testing.T, ts *testServer) {
			rc := dialRaw(t, ts, source)
			// Not reading: the server must give up on its own.
			deadline := time.Now().Add(deadPeer + cfg.WriteTimeout + 5*time.Second)
			for ts.hub.metrics.viewers.Load() != 0 || ts.hub.metrics.viewersTotal.Load() == 0 {
				if time.Now().After(deadline) {
					t.Fatal("frozen viewer still connected")
				}
				time.Sleep(10 * time.Millisecond)
			}
			rc.Close()
		}},
		{"reads but never answers pings", func(t *testing.T, ts *testServer) {
			d := gorilla.Dialer{HandshakeTimeout: 5 * time.Second}
			c, _, err := d.Dial(ts.liveURL(source), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetPingHandler(func(string) error { return nil })
			c.SetReadDeadline(time.Now().Add(deadPeer + 5*time.Second))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatal("server did not close a viewer that never answers pings")
					}
					return
				}
			}
		}},
		{"sends an oversized message", func(t *testing.T, ts *testServer) {
			c := dial(t, ts.liveURL(source))
			readUntil(t, c, "data")
			big := `{"type":"ping","pad":"` + strings.Repeat("x", int(cfg.MaxMessageBytes)) + `"}`
			c.Write(context.Background(), websocket.MessageText, []byte(big))
			if ce, _ := readClose(t, c, 5*time.Second); ce.Code != websocket.StatusMessageTooBig {
				t.Errorf("close %v, want 1009", ce)
			}
		}},
		{"sends garbage frames", func(t *testing.T, ts *testServer) {
			rc := dialRaw(t, ts, source)
			junk := make([]byte, 512)
			rand.Read(junk)
			rc.Write(junk)
			rc.waitClosedByServer(t, deadPeer+5*time.Second)
			rc.Close()
		}},
		{"sends text that is not JSON", func(t *testing.T, ts *testServer) {
			c := dial(t, ts.liveURL(source))
			c.Write(context.Background(), websocket.MessageText, []byte("hello?"))
			ce, msgs := readClose(t, c, 5*time.Second)
			if ce.Code != closePolicy {
				t.Errorf("close %v, want %d", ce, closePolicy)
			}
			if len(msgs) == 0 || msgs[len(msgs)-1].Type != "error" || msgs[len(msgs)-1].Code != closePolicy {
				t.Errorf("no error message before the close; last messages: %+v", msgs[max(0, len(msgs)-2):])
			}
		}},
		{"sends a binary message", func(t *testing.T, ts *testServer) {
			rc := dialRaw(t, ts, source)
			rc.Write(maskedFrame(0x2, []byte{1, 2, 3}))
			rc.waitClosedByServer(t, 5*time.Second)
			rc.Close()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startTestServer(t, nil)
			base := snapshot()
			tc.leave(t, ts)
			ts.expectDrained(t, base)
		})
	}
}

func TestLiveProtocol(t *testing.T) {
	ts := startTestServer(t, nil)
	base := snapshot()
	c := dial(t, ts.liveURL("demo-text://?interval=20ms"))

	if m := readMessage(t, c); m.Type != "status" {
		t.Fatalf("first message %+v, want a status", m)
	}
	first := readUntil(t, c, "data")
	next := readUntil(t, c, "data")
	if next.Seq <= first.Seq || next.TS <= first.TS {
		t.Errorf("data not in order: %+v then %+v", first, next)
	}
	c.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping","id":7}`))
	if pong := readUntil(t, c, "pong"); pong.ID != 7 {
		t.Errorf("pong %+v, want id 7", pong)
	}
	c.Write(context.Background(), websocket.MessageText, []byte(`{"type":"subscribe"}`))
	if e := readUntil(t, c, "error"); e.Code != closeBadRequest || !strings.Contains(e.Message, "subscribe") {
		t.Errorf("unknown type answered %+v", e)
	}
	if s := readUntil(t, c, "stats"); s.Messages == 0 {
		t.Errorf("stats %+v count no messages", s)
	}
	c.Close(websocket.StatusNormalClosure, "")
	ts.expectDrained(t, base)
}

func TestLiveBadInput(t *testing.T) {
	ts := startTestServer(t, nil)
	cases := []struct {
		name, query string
		code        int
		message     string
	}{
		{"no url", "", closeBadRequest, "missing url parameter"},
		{"unparsable url", "url=%25zz%3A%2F%2F", closeBadRequest, "not a valid URL"},
		{"relative url", "url=camera%2Fstream", closeBadRequest, "absolute URL"},
		{"unknown scheme", "url=" + url.QueryEscape("gopher://host/1"), closeUnsupportedScheme, `unsupported source scheme "gopher"`},
		{"bad parameter", "url=" + url.QueryEscape("demo-text://?interval=fast"), closeBadRequest, "interval"},
		{"credentials never echoed", "url=" + url.QueryEscape("ftp://admin:s3cret@cam/"), closeUnsupportedScheme, "unsupported"},
	}
	base := snapshot()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts.ws+"/live?"+tc.query)
			ce, msgs := readClose(t, c, 5*time.Second)
			if int(ce.Code) != tc.code || !strings.Contains(ce.Reason, tc.message) {
				t.Errorf("close %d %q, want %d with %q", ce.Code, ce.Reason, tc.code, tc.message)
			}
			if len(msgs) != 1 || msgs[0].Type != "error" || msgs[0].Code != tc.code || msgs[0].Message == "" {
				t.Errorf("messages %+v, want one error with code %d", msgs, tc.code)
			}
			if strings.Contains(ce.Reason, "s3cret") || (len(msgs) > 0 && strings.Contains(msgs[0].Message, "s3cret")) {
				t.Errorf("credentials echoed: %q %+v", ce.Reason, msgs)
			}
		})
	}
	t.Run("origin not allowed", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, ts.liveURL("demo-text://"), &websocket.DialOptions{
			HTTPHeader: http.Header{"Origin": {"https://evil.example"}},
		})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial from a foreign origin: %v, %v; want 403", err, resp)
		}
	})
	t.Run("origin allowed", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, ts.liveURL("demo-text://"), &websocket.DialOptions{
			HTTPHeader: http.Header{"Origin": {"http://localhost:5173"}},
		})
		if err != nil {
			t.Fatalf("dial from a loopback page: %v", err)
		}
		c.CloseNow()
	})
	ts.expectDrained(t, base)
}

// Viewers of one source share one producer, whatever the spelling of its
// URL, and the producer stops after the last viewer leaves and the linger.
func TestLiveSharedProducer(t *testing.T) {
	ts := startTestServer(t, func(c *Config) { c.Live.Linger = 300 * time.Millisecond })
	base := snapshot()
	spellings := []string{
		"demo-text://?interval=50ms&size=100",
		"DEMO-TEXT://?size=100&interval=50ms",
		"demo-text://?interval=50ms&size=100#fragment",
	}
	var conns []*websocket.Conn
	for i := 0; i < 6; i++ {
		c := dial(t, ts.liveURL(spellings[i%len(spellings)]))
		readUntil(t, c, "data")
		conns = append(conns, c)
	}
	if n := ts.hub.metrics.producers.Load(); n != 1 {
		t.Errorf("%d producers for one source, want 1", n)
	}
	streams := ts.hub.Streams()
	if len(streams) != 1 || streams[0].Viewers != 6 || streams[0].State != stateLive {
		t.Errorf("/streams = %+v, want one live source with 6 viewers", streams)
	}
	for _, c := range conns {
		c.Close(websocket.StatusNormalClosure, "")
	}
	time.Sleep(100 * time.Millisecond)
	if n := ts.hub.metrics.producers.Load(); n != 1 {
		t.Errorf("producer stopped before the linger: %d running", n)
	}
	ts.expectDrained(t, base)
}

// A viewer that joins while its source lingers gets the running producer.
func TestLiveRejoinDuringLinger(t *testing.T) {
	ts := startTestServer(t, func(c *Config) { c.Live.Linger = time.Minute })
	c := dial(t, ts.liveURL("demo-text://?interval=20ms"))
	first := readUntil(t, c, "data")
	c.Close(websocket.StatusNormalClosure, "")
	c = dial(t, ts.liveURL("demo-text://?interval=20ms"))
	if again := readUntil(t, c, "data"); again.Seq < first.Seq {
		t.Errorf("rejoin restarted the source: seq %d after %d", again.Seq, first.Seq)
	}
	if n := ts.hub.metrics.viewersTotal.Load(); n != 2 || ts.hub.metrics.producers.Load() != 1 {
		t.Errorf("viewers total %d, producers %d; want 2 and 1", n, ts.hub.metrics.producers.Load())
	}
	c.Close(websocket.StatusNormalClosure, "")
}

func TestLiveLimits(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Live.MaxViewers = 3
		c.Live.MaxViewersPerSource = 2
		c.Live.MaxSources = 2
	})
	base := snapshot()
	a := dial(t, ts.liveURL("demo-text://?interval=1s"))
	readMessage(t, a)
	b := dial(t, ts.liveURL("demo-text://?interval=1s"))
	readMessage(t, b)
	expectRefused := func(source, reason string) {
		t.Helper()
		c := dial(t, ts.liveURL(source))
		if ce, _ := readClose(t, c, 5*time.Second); int(ce.Code) != closeTooMany || !strings.Contains(ce.Reason, reason) {
			t.Errorf("close %v, want %d %q", ce, closeTooMany, reason)
		}
	}
	expectRefused("demo-text://?interval=1s", "too many viewers of this source")
	c := dial(t, ts.liveURL("demo-text://?interval=2s"))
	readMessage(t, c)
	expectRefused("demo-text://?interval=3s", "too many viewers")
	c.Close(websocket.StatusNormalClosure, "")
	readAndWait := func() {
		for ts.hub.metrics.viewers.Load() > 2 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	readAndWait()
	expectRefused("demo-text://?interval=3s", "too many sources")
	a.Close(websocket.StatusNormalClosure, "")
	b.Close(websocket.StatusNormalClosure, "")
	ts.expectDrained(t, base)
}

// A slow or frozen viewer never delays the other viewers of its source, is
// told about its drops, and is closed as too slow or frozen.
func TestLiveSlowViewersDoNotDelayOthers(t *testing.T) {
	// A write timeout well over the lag limit, so that the slow viewer,
	// whose writes stall for as long as its window takes to reopen, is
	// closed for its lag and not as frozen, however busy the machine.
	ts := startTestServer(t, func(cfg *Config) { cfg.Live.WriteTimeout = 3 * time.Second })
	cfg := ts.cfg.Live
	base := snapshot()
	// 20 KiB every 10 ms: 2 MB/s, far more than the kernel buffers hold.
	const source = "demo-text://?interval=10ms&size=20000"

	frozen := dialRaw(t, ts, source)
	defer frozen.Close()

	// A slow link: the viewer's kernel buffer is small, as on a congested
	// network, so what it does not read pushes back on decoder.
	slowCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
		}
		return c, err
	}}
	defer transport.CloseIdleConnections()
	slow, _, err := websocket.Dial(slowCtx, ts.liveURL(source), &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	slowDone := make(chan struct{})
	var slowClose websocket.CloseError
	var slowDrops uint64
	go func() {
		defer close(slowDone)
		for {
			// Half the rate: one message per two intervals.
			time.Sleep(20 * time.Millisecond)
			_, data, err := slow.Read(context.Background())
			if err != nil {
				errors.As(err, &slowClose)
				return
			}
			var m serverMessage
			json.Unmarshal(data, &m)
			if m.Type == "stats" {
				slowDrops = m.Drops
			}
		}
	}()

	var wg sync.WaitGroup
	gaps := make([]time.Duration, 3)
	for i := range gaps {
		c := dial(t, ts.liveURL(source))
		wg.Go(func() {
			readUntil(t, c, "data")
			last := time.Now()
			for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
				readMessage(t, c)
				gaps[i] = max(gaps[i], time.Since(last))
				last = time.Now()
			}
			c.Close(websocket.StatusNormalClosure, "")
		})
	}
	wg.Wait()
	for i, g := range gaps {
		// A liveness bound, not a latency figure: a viewer held up by the
		// frozen one would wait for the write timeout.
		if g > 400*time.Millisecond {
			t.Errorf("viewer %d waited %v between messages", i, g)
		}
	}
	t.Logf("largest gaps of healthy viewers: %v", gaps)

	select {
	case <-slowDone:
	case <-time.After(cfg.MaxLag + 10*time.Second):
		t.Fatal("slow viewer still connected")
	}
	// Its close frame waits behind what it has not read: within the close
	// grace it may not get through, and the viewer is dropped without it.
	if (slowClose.Code != 0 && int(slowClose.Code) != closeTooSlow) || slowDrops == 0 {
		t.Errorf("slow viewer: close %v after %d drops reported; want %d after drops", slowClose, slowDrops, closeTooSlow)
	}
	slow.CloseNow()
	frozen.waitClosedByServer(t, 10*time.Second)
	frozen.Close()
	if n := ts.hub.metrics.slowClosed.Load(); n == 0 {
		t.Error("decoder_slow_viewers_closed_total not counted: the slow viewer was closed for another reason")
	}
	ts.expectDrained(t, base)
}

// Viewers that connect and vanish abruptly, many at once, leave nothing.
func TestLiveChurn(t *testing.T) {
	ts := startTestServer(t, nil)
	base := snapshot()
	const viewers, parallel = 1000, 50
	var wg sync.WaitGroup
	work := make(chan int)
	for range parallel {
		wg.Go(func() {
			for i := range work {
				rc := dialRaw(t, ts, "demo-text://?interval=10ms")
				rc.br.ReadByte()
				if i%2 == 0 {
					rc.Conn.(*net.TCPConn).SetLinger(0)
				}
				rc.Close()
			}
		})
	}
	for i := range viewers {
		work <- i
	}
	close(work)
	wg.Wait()
	if n := ts.hub.metrics.viewersTotal.Load(); n != viewers {
		t.Errorf("%d viewers served, want %d", n, viewers)
	}
	ts.expectDrained(t, base)
}

// Shutdown tells every viewer that decoder is going away.
func TestLiveShutdownClosesViewers(t *testing.T) {
	ts := startTestServer(t, nil)
	var conns []*websocket.Conn
	for i := range 5 {
		c := dial(t, ts.liveURL(fmt.Sprintf("demo-text://?interval=%dms", 20+i%2)))
		readUntil(t, c, "data")
		conns = append(conns, c)
	}
	results := make(chan websocket.CloseError, len(conns))
	for _, c := range conns {
		go func() {
			ce, _ := readClose(t, c, 10*time.Second)
			results <- ce
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	for range conns {
		if ce := <-results; ce.Code != websocket.StatusGoingAway {
			t.Errorf("viewer closed with %v, want 1001", ce)
		}
	}
	if n := ts.hub.metrics.producers.Load(); n != 0 {
		t.Errorf("%d producers still running after shutdown", n)
	}
}
