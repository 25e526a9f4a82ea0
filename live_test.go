package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

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
			waitFor(t, deadPeer+cfg.WriteTimeout+5*time.Second, "the server to drop a viewer that stopped reading", func() bool {
				return ts.hub.metrics.viewers.Load() == 0 && ts.hub.metrics.viewersTotal.Load() > 0
			})
			rc.Close()
		}},
		{"reads but never answers pings", func(t *testing.T, ts *testServer) {
			rc := dialRaw(t, ts, source)
			// Reads everything, answers nothing: no pong, no close.
			rc.waitClosedByServer(t, deadPeer+5*time.Second)
			rc.Close()
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
		{"sends text that is not JSON", sendsText(source, "hello?", closePolicy)},
		{"sends text that is not UTF-8", sendsText(source, "{\"type\":\"ping\",\"id\":\"\xff\xfe\"}", closeInvalidText)},
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

// sendsText is a viewer that sends text /live refuses: it must get an
// error message with code, then a close with code, and no answer.
func sendsText(source, text string, code int) func(t *testing.T, ts *testServer) {
	return func(t *testing.T, ts *testServer) {
		c := dial(t, ts.liveURL(source))
		c.Write(context.Background(), websocket.MessageText, []byte(text))
		ce, msgs := readClose(t, c, 5*time.Second)
		if int(ce.Code) != code {
			t.Errorf("close %v, want %d", ce, code)
		}
		if n := len(msgs); n == 0 || msgs[n-1].Type != "error" || msgs[n-1].Code != code {
			t.Errorf("no error message before the close; last messages: %+v", msgs[max(0, n-2):])
		}
		for _, m := range msgs {
			if m.Type == "pong" {
				t.Errorf("refused text was answered: %+v", m)
			}
		}
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
		{"invalid percent-encoding", "url=rtsp%3A%2F%2Fcam%zz", closeBadRequest, "parameters cannot be read"},
		{"semicolons between parameters", "url=demo-text%3A%2F%2F;start=next", closeBadRequest, "parameters cannot be read"},
		{"unknown start", "url=demo%3A%2F%2F&start=middle", closeBadRequest, "start must be buffered"},
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
		ce, msgs := readClose(t, c, 5*time.Second)
		if int(ce.Code) != closeTooMany || !strings.Contains(ce.Reason, reason) {
			t.Errorf("close %v, want %d %q", ce, closeTooMany, reason)
		}
		if n := len(msgs); n == 0 || msgs[n-1].Type != "error" || msgs[n-1].Code != closeTooMany || !strings.Contains(msgs[n-1].Message, reason) {
			t.Errorf("messages %+v, want an error message with %d before the close", msgs, closeTooMany)
		}
	}
	expectRefused("demo-text://?interval=1s", "too many viewers of this source")
	c := dial(t, ts.liveURL("demo-text://?interval=2s"))
	readMessage(t, c)
	expectRefused("demo-text://?interval=3s", "too many viewers")
	c.Close(websocket.StatusNormalClosure, "")
	waitFor(t, 5*time.Second, "the closed viewer to leave", func() bool { return ts.hub.metrics.viewers.Load() <= 2 })
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
	errs := make([]error, len(gaps))
	for i := range gaps {
		c := dial(t, ts.liveURL(source))
		wg.Go(func() {
			defer c.Close(websocket.StatusNormalClosure, "")
			if _, errs[i] = nextOfType(c, "data"); errs[i] != nil {
				return
			}
			last := time.Now()
			for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
				if _, errs[i] = nextMessage(c); errs[i] != nil {
					return
				}
				gaps[i] = max(gaps[i], time.Since(last))
				last = time.Now()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("healthy viewers: %v", err)
	}
	for i, g := range gaps {
		// A liveness bound, not a latency figure: a viewer held up by the
		// frozen one would wait for the write timeout.
		if g > cfg.WriteTimeout/3 {
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
	errs := make(chan error, viewers)
	for range parallel {
		wg.Go(func() {
			for i := range work {
				rc, err := rawDial(ts.liveURL("demo-text://?interval=10ms"))
				if err != nil {
					errs <- err
					continue
				}
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
	close(errs)
	for err := range errs {
		t.Fatalf("a churning viewer could not connect: %v", err)
	}
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
	type result struct {
		ce  websocket.CloseError
		err error
	}
	results := make(chan result, len(conns))
	for _, c := range conns {
		go func() {
			ce, _, err := nextClose(c, 10*time.Second)
			results <- result{ce, err}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	for range conns {
		if r := <-results; r.err != nil || r.ce.Code != websocket.StatusGoingAway {
			t.Errorf("viewer closed with %v (%v), want 1001", r.ce, r.err)
		}
	}
	if n := ts.hub.metrics.producers.Load(); n != 0 {
		t.Errorf("%d producers still running after shutdown", n)
	}
}
