package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrowser runs e2e/e2e.mjs: decoder's page and player in Debian's
// Chromium, driven by playwright-core, against decoder and RTSP cameras
// started here. Screenshots go to test-output/.
func TestBrowser(t *testing.T) {
	requireFFmpeg(t)
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium not found at %s (apt-get install chromium, or set CHROMIUM)", chromium)
	}
	if _, err := os.Stat("e2e/node_modules/playwright-core"); err != nil {
		t.Fatalf("playwright-core is not installed: run npm ci --prefix e2e")
	}

	camA := startTestCamera(t, demoClip)
	camB := startTestCamera(t, demoClip)
	camC := startTestCamera(t, demoClip)
	h265 := makeClip(t, "e2e-h265", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=2",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=25:min-keyint=25:bframes=0:log-level=error", "-pix_fmt", "yuv420p")
	camH265 := startTestCamera(t, h265)
	bframes := makeClip(t, "e2e-bframes", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=4",
		"-c:v", "libx264", "-profile:v", "high", "-bf", "3", "-g", "50", "-pix_fmt", "yuv420p")
	camBFrames := startTestCamera(t, bframes)
	ts := startTestServer(t, func(cfg *Config) {
		cfg.Live.Sources.RetryMin = 200 * time.Millisecond
		cfg.Live.Sources.RetryMax = time.Second
		// Browsers read in bursts and run timers lazily: production
		// timings, not the engine tests' tight ones.
		cfg.Live.PingInterval = 5 * time.Second
		cfg.Live.PongTimeout = 5 * time.Second
		cfg.Live.WriteTimeout = 5 * time.Second
		cfg.Live.MaxBacklog = 2 * time.Second
		cfg.Live.MaxLag = 10 * time.Second
		cfg.Live.StatsInterval = time.Second
		cfg.Live.SendBuffer = 64 << 10
	})

	control := http.NewServeMux()
	control.HandleFunc("POST /camera/stop", func(w http.ResponseWriter, r *http.Request) { camA.Stop() })
	control.HandleFunc("POST /camera/start", func(w http.ResponseWriter, r *http.Request) { camA.start() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	controlServer := &http.Server{Handler: control, ReadHeaderTimeout: 5 * time.Second}
	go controlServer.Serve(ln)
	t.Cleanup(func() { controlServer.Close() })

	cameras, _ := json.Marshal(map[string]string{
		"a": camA.url(), "b": camB.url(), "c": camC.url(), "h265": camH265.url(), "bframes": camBFrames.url(),
		"unreachable": "rtsp://127.0.0.1:" + freePort(t) + "/stream",
	})
	outDir, _ := filepath.Abs("test-output")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "e2e/e2e.mjs")
	cmd.Env = append(os.Environ(),
		"DECODER_URL="+ts.base, "CONTROL_URL=http://"+ln.Addr().String(),
		"CAMERAS="+string(cameras), "OUT_DIR="+outDir, "CHROMIUM="+chromium)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var result struct {
			Scenario string `json:"scenario"`
			OK       bool   `json:"ok"`
			Error    string `json:"error"`
		}
		line := sc.Text()
		if json.Unmarshal([]byte(line), &result) != nil {
			t.Log(line)
			continue
		}
		if result.OK {
			t.Logf("%s: %s", result.Scenario, line)
		} else {
			t.Errorf("%s failed: %s", result.Scenario, strings.ReplaceAll(result.Error, `\n`, "\n"))
		}
	}
	if err := cmd.Wait(); err != nil && !t.Failed() {
		t.Errorf("e2e.mjs: %v\n%s", err, stderr.String())
	}
}
