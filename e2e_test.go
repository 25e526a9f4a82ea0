package main

import (
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
	scenarios := []string{"demo", "restart", "bframes", "wall", "errors", "wrongpw", "destroy", "lang"}
	for _, r := range runBrowserScenarios(t, scenarios...) {
		if r["ok"] == true {
			line, _ := json.Marshal(r)
			t.Logf("%s: %s", r["scenario"], line)
		} else {
			t.Errorf("%s failed: %s", r["scenario"], r["error"])
		}
	}
}

// runBrowserScenarios starts decoder, the cameras and the control
// endpoint, runs e2e/e2e.mjs with the scenarios named and returns each
// scenario's result line; a scenario that did not report fails the test.
func runBrowserScenarios(t testing.TB, scenarios ...string) []map[string]any {
	t.Helper()
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
	camLocked := startTestCamera(t, demoClip)
	camLocked.user, camLocked.pass = "admin", "right-pw"
	ts := startTestServer(t, func(cfg *Config) {
		// Browsers read in bursts and run timers lazily: production
		// timings, not the engine tests' tight ones.
		cfg.Live = defaultConfig(t).Live
		cfg.Live.Linger = 100 * time.Millisecond
	})

	control := http.NewServeMux()
	control.HandleFunc("POST /camera/stop", func(w http.ResponseWriter, r *http.Request) { camA.Stop() })
	control.HandleFunc("POST /camera/start", func(w http.ResponseWriter, r *http.Request) { camA.start() })
	control.HandleFunc("GET /locked/connections", func(w http.ResponseWriter, r *http.Request) {
		conns, _ := camLocked.requests()
		json.NewEncoder(w).Encode(conns)
	})
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
		"wrongpw":     "rtsp://admin:wrong-pw@" + camLocked.addr + "/stream",
	})
	outDir, _ := filepath.Abs("test-output")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"e2e/e2e.mjs"}, scenarios...)...)
	cmd.Env = append(os.Environ(),
		"DECODER_URL="+ts.base, "CONTROL_URL=http://"+ln.Addr().String(),
		"CAMERAS="+string(cameras), "OUT_DIR="+outDir, "CHROMIUM="+chromium)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var results []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil {
			results = append(results, r)
		} else if line != "" {
			t.Log(line)
		}
	}
	ran := map[string]bool{}
	failed := false
	for _, r := range results {
		name, _ := r["scenario"].(string)
		ran[name] = true
		failed = failed || r["ok"] != true
	}
	for _, name := range scenarios {
		if !ran[name] {
			t.Fatalf("e2e.mjs did not run %s (%v)\n%s", name, err, stderr.String())
		}
	}
	if err != nil && !failed {
		t.Fatalf("e2e.mjs: %v\n%s", err, stderr.String())
	}
	return results
}
