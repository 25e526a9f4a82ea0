package main

// Test helpers shared by the tests: real decoder servers and processes,
// WebSocket clients (the library and a raw one free to misbehave), readers of
// /live messages, polling, and the leak checks. Helpers that take a
// testing.TB fail the test and must run on its goroutine; the ones that
// return an error are for goroutines of their own.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
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
		BufferBudget:        256 << 20,
		TranscodeEncoder:    encoderAuto,
		MaxTranscodes:       4,
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

// startTestServer starts a server with the test configuration, changed by
// mutate, and shuts it down when the test ends.
func startTestServer(t testing.TB, mutate func(*Config)) *testServer {
	t.Helper()
	return startTestServerLog(t, mutate, testLogger(t))
}

// startTestServerLog is startTestServer logging to log.
func startTestServerLog(t testing.TB, mutate func(*Config), log *slog.Logger) *testServer {
	t.Helper()
	cfg := Config{Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second, Live: testLiveConfig()}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := NewServer(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, base: srv.URL(), ws: "ws" + strings.TrimPrefix(srv.URL(), "http")}
	if srv.tls != nil {
		ts.ws = "wss" + strings.TrimPrefix(srv.URL(), "https")
	}
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

// testLogger logs to the test's log with -v, and nowhere otherwise.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testWriter sends the server's log to the test's, with -v.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// liveURL is the server's /live WebSocket URL for source.
func (ts *testServer) liveURL(source string) string {
	return ts.ws + "/live?url=" + url.QueryEscape(source)
}

// resources are what a leak would show in.
type resources struct{ goroutines, fds int }

// snapshot counts the test process's goroutines and file descriptors.
func snapshot() resources {
	p, _ := readProcStats()
	return resources{runtime.NumGoroutine(), p.openFDs}
}

// expectDrained waits until the server has no viewers and no producers and
// goroutines and file descriptors are back to base.
func (ts *testServer) expectDrained(t testing.TB, base resources) {
	t.Helper()
	var now resources
	var viewers, producers int64
	drained := eventually(15*time.Second, func() bool {
		now = snapshot()
		viewers, producers = ts.hub.metrics.viewers.Load(), ts.hub.metrics.producers.Load()
		return viewers == 0 && producers == 0 && now.goroutines <= base.goroutines && now.fds <= base.fds
	})
	if !drained {
		t.Fatalf("not drained: viewers=%d producers=%d goroutines=%d (base %d) fds=%d (base %d)\n%s",
			viewers, producers, now.goroutines, base.goroutines, now.fds, base.fds, allStacks())
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
	Attempt  int    `json:"attempt"`
	Code     int    `json:"code"`
	Message  string `json:"message"`
	Seq      uint64 `json:"seq"`
	TS       int64  `json:"ts"`
	Drops    uint64 `json:"drops"`
	Messages uint64 `json:"messages"`
	ID       int    `json:"id"`
}

// readTimeout bounds each read of the reading helpers: far more than any
// message of a working server takes.
const readTimeout = 5 * time.Second

// nextMessage reads the next message, which must be a JSON text message.
func nextMessage(c *websocket.Conn) (serverMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		return serverMessage{}, fmt.Errorf("read: %w", err)
	}
	var m serverMessage
	if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil {
		return m, fmt.Errorf("unexpected message %v %q", typ, data)
	}
	return m, nil
}

// nextOfType reads messages until one of type typ, for at most
// readTimeout per message.
func nextOfType(c *websocket.Conn, typ string) (serverMessage, error) {
	for {
		m, err := nextMessage(c)
		if err != nil || m.Type == typ {
			return m, err
		}
	}
}

// readMessage reads the next text message.
func readMessage(t testing.TB, c *websocket.Conn) serverMessage {
	t.Helper()
	m, err := nextMessage(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readUntil reads messages until one of type typ, and returns it.
func readUntil(t testing.TB, c *websocket.Conn, typ string) serverMessage {
	t.Helper()
	m, err := nextOfType(c, typ)
	if err != nil {
		t.Fatalf("waiting for a %s message: %v", typ, err)
	}
	return m
}

// nextClose reads until the connection closes and returns its close
// frame and the messages before it, or an error if it ended without one or
// took longer than timeout.
func nextClose(c *websocket.Conn, timeout time.Duration) (websocket.CloseError, []serverMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var msgs []serverMessage
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				return ce, msgs, fmt.Errorf("connection ended without a close frame: %w", err)
			}
			return ce, msgs, nil
		}
		var m serverMessage
		json.Unmarshal(data, &m)
		msgs = append(msgs, m)
	}
}

// readClose reads until the connection closes and returns its close error.
func readClose(t testing.TB, c *websocket.Conn, timeout time.Duration) (websocket.CloseError, []serverMessage) {
	t.Helper()
	ce, msgs, err := nextClose(c, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return ce, msgs
}

// rawConn is a WebSocket client written by hand, free to misbehave.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

// rawDial performs the handshake for the WebSocket URL u and returns the
// connection untouched.
func rawDial(u string) (*rawConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, br, err := rawHandshake(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	return &rawConn{Conn: c, br: br}, nil
}

// dialRaw connects a raw client to source on ts.
func dialRaw(t testing.TB, ts *testServer, source string) *rawConn {
	t.Helper()
	rc, err := rawDial(ts.liveURL(source))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
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

// eventually polls cond every 20 ms until it holds or timeout passes, and
// reports whether it held.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// waitFor fails the test unless cond holds within timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !eventually(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// allStacks is every goroutine's stack, for a leak report.
func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// The binary built for this test run.
var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// decoderBinary builds the real binary once per test run.
func decoderBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "decoder-test-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "decoder")
		out, err := exec.Command("go", "build", "-o", buildPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// process is a running decoder binary.
type process struct {
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
	exited chan struct{}
	err    error
}

// lockedBuffer collects a process's output written from one goroutine and
// read from another.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startDecoder runs the binary with env (added to a minimal environment
// without any D-Bus session, whose cache and configuration directories,
// where decoder records itself and its autostart entry, are the test's)
// and waits for its "listening" line.
func startDecoder(t testing.TB, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(decoderBinary(t), args...)
	home := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "XDG_CACHE_HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}
	cmd.Env = append(home, env...)
	return startProcess(t, cmd)
}

// startProcess starts cmd, a decoder however it is started (pinned to a
// core, say), and waits for its "listening" line.
func startProcess(t testing.TB, cmd *exec.Cmd) *process {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
	})
	select {
	case line := <-lines:
		i := strings.Index(line, "listening")
		if i < 0 {
			t.Fatalf("unexpected first line %q", line)
		}
		p.url = strings.TrimPrefix(line[i:], "listening on ")
	case <-p.exited:
		t.Fatalf("%s exited before listening: %v\n%s", cmd.Path, p.err, p.stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not start listening\n%s", cmd.Path, p.stderr)
	}
	return p
}

// liveURL is the process's /live WebSocket URL for source.
func (p *process) liveURL(source string) string {
	return "ws" + strings.TrimPrefix(p.url, "http") + "/live?url=" + url.QueryEscape(source)
}

// wait returns the exit code once the process has exited within timeout.
func (p *process) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("decoder still running after %v\n%s", timeout, p.stderr)
		return -1
	}
}

// keepReading reads and discards what c gets until it closes, so that a
// viewer done recording stays a healthy viewer.
func keepReading(t testing.TB, c *websocket.Conn) {
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	})
	t.Cleanup(func() {
		c.CloseNow()
		wg.Wait()
	})
}

// testHandler is a server's handler, for requests without a socket.
func testHandler(t *testing.T, mutate func(*Config)) http.Handler {
	t.Helper()
	cfg := Config{Addr: "127.0.0.1:0", Live: testLiveConfig()}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := NewServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return srv.Handler()
}

// localRequest is a request as a page on this machine sends it.
func localRequest(method, path string) *http.Request {
	r := httptest.NewRequest(method, "http://127.0.0.1:3000"+path, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	return r
}

// requireFFmpeg fails the test where ffmpeg is missing: ./test.sh installs
// it, and the media tests mean nothing without it.
func requireFFmpeg(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found on PATH: install ffmpeg (apt-get install ffmpeg)", tool)
		}
	}
}

// defaultConfig is decoder's configuration with no flag or variable set.
func defaultConfig(t testing.TB) Config {
	cfg, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
