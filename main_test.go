package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain fails the run if goroutines started by the tests outlive them.
func TestMain(m *testing.M) {
	base := runtime.NumGoroutine()
	code := m.Run()
	if clipsPath != "" {
		os.RemoveAll(clipsPath)
	}
	if code == 0 {
		if n := waitGoroutines(base, 10*time.Second); n > base {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %d at start, %d at end\n%s", base, n, allStacks())
			code = 1
		}
	}
	os.Exit(code)
}

// waitGoroutines waits until at most want goroutines run, and returns the
// count it saw last.
func waitGoroutines(want int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

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
// without any D-Bus session) and waits for its "listening" line.
func startDecoder(t testing.TB, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(decoderBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
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
		i := strings.Index(line, "listening on ")
		if i < 0 {
			t.Fatalf("unexpected first line %q", line)
		}
		p.url = line[i+len("listening on "):]
	case <-p.exited:
		t.Fatalf("decoder exited before listening: %v\n%s", p.err, p.stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("decoder did not start listening\n%s", p.stderr)
	}
	return p
}

// wait returns the exit code once the process has exited within timeout.
// liveURL is the process's /live WebSocket URL for source.
func (p *process) liveURL(source string) string {
	return "ws" + strings.TrimPrefix(p.url, "http") + "/live?url=" + url.QueryEscape(source)
}

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
	if !strings.Contains(p.stderr.String(), "running headless") {
		t.Errorf("without a session bus decoder should say it runs headless; stderr:\n%s", p.stderr)
	}
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, p.stderr)
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
}

func TestBinaryPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	cmd := exec.Command(decoderBinary(t), "-headless")
	cmd.Env = []string{"PORT=" + port}
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit code %d (%v), want 1; output:\n%s", code, err, out)
	}
	want := "decoder: port " + port + " is already in use; set PORT or -addr\n"
	if string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func TestBinaryVersionAndHelp(t *testing.T) {
	out, err := exec.Command(decoderBinary(t), "-version").Output()
	if err != nil || string(out) != "decoder "+Version+"\n" {
		t.Errorf("-version printed %q (%v)", out, err)
	}
	out, err = exec.Command(decoderBinary(t), "-h").CombinedOutput()
	if err != nil {
		t.Errorf("-h failed: %v", err)
	}
	for _, want := range []string{"-addr", "DECODER_ADDR", "-linger", "DECODER_PING_INTERVAL", "PORT"} {
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
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("run did not start: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
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
