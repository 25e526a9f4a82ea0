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
	scenarios := []string{"demo", "restart", "bframes", "wall9", "errors", "transcode", "g711sound", "posters",
		"fallback", "wrongpw", "destroy", "lang"}
	logScenarios(t, runBrowserScenarios(t, scenarios...))
}

// TestFirefox runs e2e/firefox.mjs: the page and the player in a second
// engine, Debian's Firefox ESR, driven over WebDriver BiDi by
// puppeteer-core, against decoder and cameras started as for TestBrowser.
// What Firefox plays (H.265 passed through or transcoded) is its own
// MediaSource's answer, reported in the h265 scenario's figures.
func TestFirefox(t *testing.T) {
	firefox := os.Getenv("FIREFOX")
	if firefox == "" {
		firefox = "/usr/bin/firefox-esr"
	}
	if _, err := os.Stat(firefox); err != nil {
		t.Fatalf("Firefox not found at %s: apt-get install firefox-esr (./deps.sh does), or set FIREFOX to its path", firefox)
	}
	if _, err := os.Stat("e2e/node_modules/puppeteer-core"); err != nil {
		t.Fatalf("puppeteer-core is not installed: run npm ci --prefix e2e")
	}
	env := append(startBrowserEnv(t), "FIREFOX="+firefox)
	logScenarios(t, runNodeScenarios(t, "e2e/firefox.mjs", env, 3*time.Minute, []string{"demo", "h265", "g711sound"}))
}

// logScenarios logs each scenario's figures and fails the test for each
// scenario that failed.
func logScenarios(t *testing.T, results []map[string]any) {
	for _, r := range results {
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
	chromium := requireChromium(t)
	env := append(startBrowserEnv(t), "CHROMIUM="+chromium)
	return runNodeScenarios(t, "e2e/e2e.mjs", env, 7*time.Minute, scenarios)
}

// requireChromium returns the Chromium the scenarios drive, and fails the
// test where it or playwright-core is missing.
func requireChromium(t testing.TB) string {
	t.Helper()
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
	return chromium
}

// startBrowserEnv starts what the browser scenarios play against: the
// cameras, decoder, a second decoder with one transcode, and the control
// endpoint. It returns them as the environment e2e/common.mjs reads.
func startBrowserEnv(t testing.TB) []string {
	t.Helper()
	requireFFmpeg(t)
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
	camG711 := &testCamera{t: t, clips: [][]byte{demoClip}, g711: g711Audio(t, false)}
	camG711.start()
	t.Cleanup(camG711.Stop)
	// Enough transcodes for a wall of three sources scaled, and for the
	// snapshots of its posters and thumbnails, which take one each while
	// they decode: no tile is refused a transcode by chance, whatever the
	// number of cores. The second decoder has one, for the scenario that
	// runs out of them.
	ts := startTestServer(t, browserConfig(t, 16))
	tight := startTestServer(t, browserConfig(t, 1))

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
		"a": camA.url(), "b": camB.url(), "c": camC.url(), "h265": camH265.url(), "g711": camG711.url(), "bframes": camBFrames.url(),
		"unreachable": "rtsp://127.0.0.1:" + freePort(t) + "/stream",
		"wrongpw":     "rtsp://admin:wrong-pw@" + camLocked.addr + "/stream",
	})
	outDir, _ := filepath.Abs("test-output")
	return []string{"DECODER_URL=" + ts.base, "DECODER_TIGHT_URL=" + tight.base, "CONTROL_URL=http://" + ln.Addr().String(),
		"CAMERAS=" + string(cameras), "OUT_DIR=" + outDir}
}

// browserConfig is the configuration of a decoder that browsers play
// from, with transcodes ffmpeg transcodes at most.
func browserConfig(t testing.TB, transcodes int) func(cfg *Config) {
	return func(cfg *Config) {
		// Browsers read in bursts and run timers lazily: production
		// timings, not the engine tests' tight ones.
		cfg.Live = defaultConfig(t).Live
		cfg.Live.Linger = 100 * time.Millisecond
		cfg.Live.MaxTranscodes = transcodes
	}
}

// runNodeScenarios runs a scenario script of e2e/ with env, for at most
// limit, and returns each scenario's result line; a scenario that did not
// report fails the test.
func runNodeScenarios(t testing.TB, script string, env []string, limit time.Duration, scenarios []string) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, scenarios...)...)
	cmd.Env = append(os.Environ(), env...)
	killGroupOnCancel(cmd)
	// The browser's processes may hold the output open a moment after.
	cmd.WaitDelay = 10 * time.Second
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
			t.Fatalf("%s did not run %s (%v); it reported:\n%s\n%s", script, name, err, out, stderr.String())
		}
	}
	if err != nil && !failed {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return results
}
