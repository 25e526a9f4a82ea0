package main

import (
	"path/filepath"
	"testing"
	"time"
)

// TestBrowserWatchOnPhone runs e2e/phone.mjs: the dashboard's "Watch on
// phone" in Debian's Chromium, against a decoder with named streams.
func TestBrowserWatchOnPhone(t *testing.T) {
	chromium := requireChromium(t)
	ts, _ := startNamedServer(t, []namedConfig{{Name: "front-door", URL: "demo://"}, {Name: "garage", URL: "demo://"}}, nil)
	outDir, _ := filepath.Abs("test-output")
	env := []string{"DECODER_URL=" + ts.base, "CHROMIUM=" + chromium, "OUT_DIR=" + outDir}
	logScenarios(t, runNodeScenarios(t, "e2e/phone.mjs", env, 2*time.Minute, []string{"phone"}))
}
