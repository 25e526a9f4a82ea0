//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// secondDecoder runs decoder while another has the port, and returns what
// it printed and its exit code.
func secondDecoder(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, decoderBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

// fakeOpener puts an xdg-open on PATH that records what it is asked to
// open in a file, so that the test sees what the tray opens without a
// browser; it returns the PATH entry and a reader of the opened addresses.
func fakeOpener(t *testing.T) (pathEnv string, opened func() []string) {
	dir := t.TempDir()
	log := filepath.Join(dir, "opened")
	script := "#!/bin/sh\nprintf '%s\\n' \"$1\" >> " + log + "\n"
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + dir + ":" + os.Getenv("PATH"), func() []string {
		data, _ := os.ReadFile(log)
		return strings.Fields(string(data))
	}
}

// TestBinarySecondStartShowsTheFirst: a second decoder on the same port
// does not fail: it prints the first one's address, or opens it in the
// browser where there is a desktop, and exits 0.
func TestBinarySecondStartShowsTheFirst(t *testing.T) {
	port := freePort(t)
	first := startDecoder(t, []string{"PORT=" + port}, "-headless")
	out, code := secondDecoder(t, []string{"PORT=" + port})
	if want := "decoder " + Version + " is already running at " + first.url + "; open that address in a browser\n"; code != 0 || out != want {
		t.Errorf("second start without a desktop: %q (exit %d), want %q (exit 0)", out, code, want)
	}
	pathEnv, opened := fakeOpener(t)
	out, code = secondDecoder(t, []string{"PORT=" + port, "DISPLAY=:99", pathEnv})
	if want := "decoder " + Version + " is already running at " + first.url + "; opened it in the browser\n"; code != 0 || out != want {
		t.Errorf("second start on a desktop: %q (exit %d), want %q (exit 0)", out, code, want)
	}
	if !eventually(5*time.Second, func() bool { return strings.Join(opened(), " ") == first.url+"/" }) {
		t.Errorf("the second start opened %q, want %s/", opened(), first.url)
	}
	if code := httpStatus(t, first.url+"/version"); code != http.StatusOK {
		t.Errorf("the first decoder answers %d after the second start", code)
	}
}

// TestBinaryPortInUse: a port held by another program is reported as
// such, naming the program, and decoder exits 1.
func TestBinaryPortInUse(t *testing.T) {
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	port := fmt.Sprint(other.Listener.Addr().(*net.TCPAddr).Port)
	out, code := secondDecoder(t, []string{"PORT=" + port}, "-headless")
	// The other program is this test, whose process is named after its
	// binary.
	want := fmt.Sprintf("decoder: port %s is in use by another program (decoder.test, pid %d), not decoder; stop it, or set PORT or -addr to use another port\n", port, os.Getpid())
	if code != 1 || out != want {
		t.Errorf("output %q (exit %d), want %q (exit 1)", out, code, want)
	}
	out, code = secondDecoder(t, []string{"PORT=" + port}, "-headless", "-replace")
	if code != 1 || out != want {
		t.Errorf("with -replace: output %q (exit %d), want %q (exit 1)", out, code, want)
	}
}

// TestBinaryReplace: decoder -replace asks the running decoder to stop,
// every viewer of which gets 1001, and serves on its port in its place.
func TestBinaryReplace(t *testing.T) {
	port, runtime := freePort(t), t.TempDir()
	env := []string{"PORT=" + port, "XDG_RUNTIME_DIR=" + runtime}
	old := startDecoder(t, env, "-headless")
	record := filepath.Join(runtime, "decoder", "instance-"+port+".json")
	if _, err := readInstance(record); err != nil {
		t.Fatalf("the running decoder left no record: %v", err)
	}
	const viewers = 5
	closes := make(chan error, viewers)
	for i := range viewers {
		c := dial(t, old.liveURL(fmt.Sprintf("demo-text://?interval=%dms", 20+i)))
		readUntil(t, c, "data")
		go func() {
			ce, _, err := nextClose(c, 15*time.Second)
			if err == nil && ce.Code != websocket.StatusGoingAway {
				err = fmt.Errorf("closed with %v, want 1001", ce)
			}
			closes <- err
		}()
	}

	repl := startDecoder(t, env, "-headless", "-replace")
	if repl.url != old.url {
		t.Errorf("the replacement listens on %s, want %s", repl.url, old.url)
	}
	for range viewers {
		if err := <-closes; err != nil {
			t.Errorf("viewer of the replaced decoder: %v", err)
		}
	}
	if code := old.wait(t, 10*time.Second); code != 0 {
		t.Errorf("the replaced decoder exited %d, want 0\n%s", code, old.stderr)
	}
	if !strings.Contains(old.stderr.String(), "asked to stop by decoder -replace") {
		t.Errorf("the replaced decoder does not say why it stopped:\n%s", old.stderr)
	}
	if code := httpStatus(t, repl.url+"/version"); code != http.StatusOK {
		t.Errorf("GET /version of the replacement = %d", code)
	}
	info, err := readInstance(record)
	if err != nil || info.PID != repl.cmd.Process.Pid {
		t.Errorf("record after the hand-over: %+v, %v; want the replacement's", info, err)
	}
	repl.cmd.Process.Signal(syscall.SIGTERM)
	if code := repl.wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM\n%s", code, repl.stderr)
	}
	if _, err := os.Stat(record); !os.IsNotExist(err) {
		t.Errorf("the record outlived the decoder: %v", err)
	}
}

// TestBinaryReplaceWithoutRecord: -replace cannot stop a decoder that left
// no record this user can read, and says what to do instead.
func TestBinaryReplaceWithoutRecord(t *testing.T) {
	port := freePort(t)
	first := startDecoder(t, []string{"PORT=" + port, "XDG_RUNTIME_DIR=" + t.TempDir()}, "-headless")
	out, code := secondDecoder(t, []string{"PORT=" + port, "XDG_RUNTIME_DIR=" + t.TempDir()}, "-headless", "-replace")
	if code != 1 || !strings.Contains(out, "cannot ask the decoder at "+first.url+" to stop") || !strings.Contains(out, "quit it from its tray") {
		t.Errorf("output %q (exit %d)", out, code)
	}
}

// TestShutdownRequestRefused: POST /shutdown stops decoder only for a
// client on this machine that is not a browser and has the token.
func TestShutdownRequestRefused(t *testing.T) {
	ts := startTestServer(t, nil)
	h := ts.Handler()
	req := func(method string, mutate func(*http.Request)) int {
		r := localRequest(method, "/shutdown")
		r.RemoteAddr = "127.0.0.1:50000"
		r.Header.Set(tokenHeader, ts.stopToken)
		mutate(r)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for name, mutate := range map[string]func(*http.Request){
		"from another machine": func(r *http.Request) { r.RemoteAddr = "192.0.2.7:50000" },
		"through a proxy":      func(r *http.Request) { r.Header.Set("X-Forwarded-For", "192.0.2.7") },
		"from a page":          func(r *http.Request) { r.Header.Set("Origin", "http://127.0.0.1:3000") },
		"from a fetch":         func(r *http.Request) { r.Header.Set("Sec-Fetch-Mode", "no-cors") },
		"without the token":    func(r *http.Request) { r.Header.Del(tokenHeader) },
		"with a wrong token":   func(r *http.Request) { r.Header.Set(tokenHeader, strings.Repeat("0", len(ts.stopToken))) },
	} {
		if code := req(http.MethodPost, mutate); code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, code)
		}
	}
	if code := req(http.MethodGet, func(*http.Request) {}); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", code)
	}
	select {
	case <-ts.StopRequested():
		t.Fatal("a refused request asked decoder to stop")
	default:
	}
	if code := req(http.MethodPost, func(*http.Request) {}); code != http.StatusOK {
		t.Errorf("decoder -replace's request: %d, want 200", code)
	}
	select {
	case <-ts.StopRequested():
	default:
		t.Error("the request was accepted but did not ask decoder to stop")
	}
}

// TestBinaryForget: decoder forget stops the user's running decoders,
// turns start at login off and leaves none of decoder's directories
// behind.
func TestBinaryForget(t *testing.T) {
	runtime, config := t.TempDir(), t.TempDir()
	env := []string{"XDG_RUNTIME_DIR=" + runtime, "XDG_CONFIG_HOME=" + config}
	running := startDecoder(t, append([]string{"PORT=" + freePort(t)}, env...), "-headless")
	// A record whose decoder is gone, as a crash leaves it.
	stale := filepath.Join(runtime, "decoder", "instance-1.json")
	if err := os.WriteFile(stale, []byte(`{"pid":1,"url":"http://127.0.0.1:1","token":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := secondDecoder(t, env, "autostart", "on"); code != 0 {
		t.Fatalf("autostart on: %s", out)
	}

	out, code := secondDecoder(t, env, "forget")
	want := "stopped the decoder at " + running.url + "\ndecoder no longer starts at login: removed " + filepath.Join(config, "autostart", "decoder.desktop") + "\n"
	if code != 0 || out != want {
		t.Errorf("forget: %q (exit %d), want %q", out, code, want)
	}
	if code := running.wait(t, 10*time.Second); code != 0 {
		t.Errorf("the running decoder exited %d\n%s", code, running.stderr)
	}
	if _, err := os.Stat(filepath.Join(runtime, "decoder")); !os.IsNotExist(err) {
		t.Errorf("decoder's runtime directory is still there: %v", err)
	}
	if out, code := secondDecoder(t, env, "forget"); code != 0 || out != "" {
		t.Errorf("forget with nothing to forget: %q (exit %d)", out, code)
	}
}

// TestRemoveLogFiles: the log, the files moved aside from it and its
// directories go, and nothing else does.
func TestRemoveLogFiles(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "decoder", "logs")
	path := filepath.Join(dir, "decoder.log")
	f, err := openRotatingFile(path, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		f.Write([]byte("0123456789"))
	}
	f.Close()
	other := filepath.Join(base, "other")
	os.WriteFile(other, nil, 0o600)
	var out strings.Builder
	if err := removeLogFiles(path, 2, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(base, "decoder")); !os.IsNotExist(err) {
		t.Errorf("the log's directories are still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file beside decoder's went too: %v", err)
	}
	if out.String() != "removed decoder's log from "+dir+"\n" {
		t.Errorf("printed %q", out.String())
	}
}
