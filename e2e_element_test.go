package main

import (
	"path/filepath"
	"testing"
	"time"
)

// TestBrowserElement runs e2e/element.mjs in Debian's Chromium:
// <decoder-stream> in a page of another origin (it plays, follows its
// attributes, passes on the player's events, and releases its viewer when
// removed), and the dashboard opened from viewer links, which plays named
// streams by name, on a desktop and at a phone's size.
func TestBrowserElement(t *testing.T) {
	chromium := requireChromium(t)
	ts := startEmbedServer(t)
	outDir, _ := filepath.Abs("test-output")
	env := []string{"DECODER_URL=" + ts.base, "CHROMIUM=" + chromium, "OUT_DIR=" + outDir}
	logScenarios(t, runNodeScenarios(t, "e2e/element.mjs", env, 4*time.Minute, []string{"element", "dashboard"}))
}

// startEmbedServer starts the decoder that e2e/embed.mjs's scenarios play
// from: the named streams front-door and garage (both the demo), with the
// browsers' timings, and transcodes enough for elements scaled to 360
// lines and for posters.
func startEmbedServer(t testing.TB) *testServer {
	t.Helper()
	requireFFmpeg(t)
	ts, _ := startNamedServer(t, []namedConfig{{Name: "front-door", URL: "demo://"}, {Name: "garage", URL: "demo://"}}, browserConfig(t, 8))
	return ts
}
