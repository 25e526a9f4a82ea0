package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestMain fails the run if goroutines started by the tests, or child
// processes they started (decoder binaries, cameras, ffmpeg, browsers),
// outlive them.
func TestMain(m *testing.M) {
	// The runtime's signal goroutine starts at the first signal.Notify (the
	// in-process server's SIGHUP reload) and lives as long as the process:
	// start it before counting, so it is part of the base.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	signal.Stop(sig)
	base := runtime.NumGoroutine()
	code := m.Run()
	if clipsPath != "" {
		os.RemoveAll(clipsPath)
	}
	if code == 0 {
		if !eventually(10*time.Second, func() bool { return runtime.NumGoroutine() <= base }) {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %d at start, %d at end\n%s", base, runtime.NumGoroutine(), allStacks())
			code = 1
		}
		var children []string
		if !eventually(10*time.Second, func() bool { children = childProcesses(); return len(children) == 0 }) {
			fmt.Fprintf(os.Stderr, "child processes left running: %v\n", children)
			code = 1
		}
	}
	os.Exit(code)
}

// childProcesses lists the test process's children still running (Linux).
func childProcesses() []string {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []string
	for _, f := range tasks {
		data, _ := os.ReadFile(f)
		pids = append(pids, strings.Fields(string(data))...)
	}
	return pids
}

func TestBinaryServesAndStopsOnSIGTERM(t *testing.T) {
	port := freePort(t)
	p := startDecoder(t, []string{"PORT=" + port})
	if want := "http://127.0.0.1:" + port; p.url != want {
		t.Errorf("listening on %s, want %s", p.url, want)
	}
	resp, err := http.Get(p.url + "/version")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"code":200,"message":"OK","data":"` + Version + `"}`; strings.TrimSpace(string(body)) != want {
		t.Errorf("/version = %s, want %s", body, want)
	}
	// decoder logs this just after its "listening" line.
	if !eventually(5*time.Second, func() bool { return strings.Contains(p.stderr.String(), "running headless") }) {
		t.Errorf("without a session bus decoder should say it runs headless; stderr:\n%s", p.stderr)
	}
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, p.stderr)
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
}

func TestBinaryVersionAndHelp(t *testing.T) {
	out, err := exec.Command(decoderBinary(t), "-version").Output()
	if err != nil || !regexp.MustCompile(`^decoder `+regexp.QuoteMeta(Version)+` \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)\n$`).Match(out) {
		t.Errorf("-version printed %q (%v), want the version and the commit", out, err)
	}
	out, err = exec.Command(decoderBinary(t), "-h").CombinedOutput()
	if err != nil {
		t.Errorf("-h failed: %v", err)
	}
	for _, want := range []string{"-addr", "DECODER_ADDR", "-linger", "DECODER_PING_INTERVAL", "PORT", "-replace", "decoder autostart on", "decoder forget"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("-h does not mention %s:\n%s", want, out)
		}
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-headless", "-addr", "127.0.0.1:0"}, func(string) string { return "" }, &stdout, &stderr)
	}()
	waitFor(t, 10*time.Second, "run to listen", func() bool { return strings.Contains(stdout.String(), "listening on") })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

// TestBinaryShutdownWithIdleConnections: SIGTERM with viewers playing and
// connections that sent nothing, or half a request (a browser's
// pre-connect, a stalled client), still stops at once: every viewer gets
// 1001 and decoder exits 0 well within the shutdown timeout.
func TestBinaryShutdownWithIdleConnections(t *testing.T) {
	p := startDecoder(t, []string{"PORT=" + freePort(t)}, "-headless", "-shutdown-timeout", "10s")
	host := strings.TrimPrefix(p.url, "http://")
	for _, opening := range []string{"", "GET /version HTTP/1.1\r\nHost: " + host + "\r\n"} {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte(opening))
	}
	const viewers = 20
	conns := make([]*websocket.Conn, viewers)
	for i := range conns {
		conns[i] = dial(t, p.liveURL(fmt.Sprintf("demo-text://?interval=%dms", 10+i%3)))
		readUntil(t, conns[i], "data")
	}
	type result struct {
		ce  websocket.CloseError
		err error
	}
	results := make(chan result, viewers)
	for _, c := range conns {
		go func() {
			ce, _, err := nextClose(c, 10*time.Second)
			results <- result{ce, err}
		}()
	}
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	code := p.wait(t, 10*time.Second)
	took := time.Since(start)
	if code != 0 {
		t.Errorf("exit code %d, want 0\n%s", code, p.stderr)
	}
	// A liveness bound: before, the idle connections held the stop for the
	// 5 s that net/http gives a new connection.
	if took > 4*time.Second {
		t.Errorf("stopping took %v with idle connections open", took)
	}
	for range viewers {
		if r := <-results; r.err != nil || r.ce.Code != websocket.StatusGoingAway {
			t.Errorf("viewer closed with %v (%v), want 1001", r.ce, r.err)
		}
	}
	t.Logf("stopped %v after SIGTERM", took.Round(time.Millisecond))
}
