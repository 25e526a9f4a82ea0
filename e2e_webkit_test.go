//go:build linux

package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// webkitDriver is Debian's WebDriver of WebKitGTK (webkit2gtk-driver),
// which starts its MiniBrowser for each session.
const webkitDriver = "/usr/bin/WebKitWebDriver"

// TestWebKit runs e2e/webkit.mjs in WebKit, the engine of Safari and of
// every iPhone browser: Debian's WebKitGTK, driven by selenium-webdriver
// through WebKitWebDriver under Xvfb. The dashboard, <decoder-stream> and
// the player each play through MediaSource, and again with MediaSource
// hidden, as on an iPhone, where ManagedMediaSource is all there is; the
// dashboard also at an iPhone's viewport size, opened from a viewer link.
func TestWebKit(t *testing.T) {
	for _, bin := range []string{webkitDriver, "/usr/bin/Xvfb"} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s not found: apt-get install webkit2gtk-driver xvfb (./deps.sh does)", bin)
		}
	}
	if _, err := os.Stat("e2e/node_modules/selenium-webdriver"); err != nil {
		t.Fatalf("selenium-webdriver is not installed: run npm ci --prefix e2e")
	}
	ts := startEmbedServer(t)
	display := startXvfb(t)
	outDir, _ := filepath.Abs("test-output")
	env := []string{"DECODER_URL=" + ts.base, "WEBKIT_DRIVER_URL=" + startWebKitDriver(t, display), "OUT_DIR=" + outDir}
	logScenarios(t, runNodeScenarios(t, "e2e/webkit.mjs", env, 8*time.Minute, []string{"dashboard", "element", "player", "phone"}))
}

// startXvfb starts a virtual X display, where WebKitGTK opens its windows,
// and returns its name.
func startXvfb(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Xvfb takes a free display and writes its number to fd 3 once it
	// takes clients.
	cmd := exec.Command("/usr/bin/Xvfb", "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	number := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		r.Close()
		number <- strings.TrimSpace(line)
	}()
	select {
	case n := <-number:
		if n == "" {
			t.Fatalf("Xvfb did not start:\n%s", stderr.String())
		}
		return ":" + n
	case <-time.After(30 * time.Second):
		t.Fatalf("Xvfb gave no display in 30 s:\n%s", stderr.String())
		return ""
	}
}

// startWebKitDriver starts WebKitWebDriver on display and returns its
// address. It runs in a process group of its own, with the browsers it
// starts, all of which are killed at the end.
func startWebKitDriver(t *testing.T, display string) string {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(webkitDriver, "--port="+port)
	cmd.Env = append(os.Environ(), "DISPLAY="+display,
		// No session bus to look for accessibility on.
		"NO_AT_BRIDGE=1",
		// Audio goes to GStreamer's fake audio sink, which keeps time as
		// a sound card would: test machines have neither a card nor a
		// sound server, and the sinks that look for one post errors that
		// can fail WebKit's media pipeline.
		"GST_PLUGIN_FEATURE_RANK=fakeaudiosink:MAX")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		// Whatever of the group is left: a browser that outlived its driver.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			log := out.String()
			t.Logf("WebKitWebDriver, the end of its output:\n%s", log[max(0, len(log)-4000):])
		}
	})
	base := "http://127.0.0.1:" + port
	waitFor(t, 20*time.Second, "WebKitWebDriver to answer", func() bool {
		resp, err := http.Get(base + "/status")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	return base
}
