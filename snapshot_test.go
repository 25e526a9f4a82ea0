package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fetchSnapshot fetches a snapshot; it returns the status, and the
// picture's size or the envelope's message.
func fetchSnapshot(ts *testServer, query string, header http.Header, timeout time.Duration) (status, width, height int, message string, err error) {
	req, _ := http.NewRequest("GET", ts.base+"/snapshot?"+query, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var env envelope
		if err := json.Unmarshal(body, &env); err != nil || env.Code != resp.StatusCode {
			return 0, 0, 0, "", fmt.Errorf("%d answered outside the envelope: %s", resp.StatusCode, body)
		}
		return resp.StatusCode, 0, 0, env.Message, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "image/jpeg" {
		return 0, 0, 0, "", fmt.Errorf("Content-Type %q", ct)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		return 0, 0, 0, "", fmt.Errorf("not a JPEG: %v", err)
	}
	return resp.StatusCode, cfg.Width, cfg.Height, "", nil
}

// getSnapshot is fetchSnapshot for the test's goroutine.
func getSnapshot(t testing.TB, ts *testServer, query string, header http.Header) (status, width, height int, message string) {
	t.Helper()
	status, width, height, message, err := fetchSnapshot(ts, query, header, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return status, width, height, message
}

// TestSnapshot: a JPEG of the newest keyframe of H.264 and H.265 cameras
// and of demo://, at the source's size or scaled to a height; by the id
// /streams gives; every error in the envelope.
func TestSnapshot(t *testing.T) {
	h264Cam := startTestCamera(t, demoClip)
	h265Cam := startTestCamera(t, h265Clip(t))
	stalled := startTestCamera(t, demoClip)
	stalled.paused.Store(true)
	ts := startTestServer(t, nil)
	noFFmpeg := startTestServer(t, func(cfg *Config) { cfg.Live.FFmpeg = "/nonexistent/ffmpeg" })
	q := func(src string) string { return "url=" + url.QueryEscape(src) }
	cases := []struct {
		name          string
		server        *testServer
		query         string
		header        http.Header
		status        int
		width, height int
		message       string
	}{
		{"H.264 camera", ts, q(h264Cam.url()), nil, 200, 1280, 720, ""},
		{"scaled", ts, q(h264Cam.url()) + "&height=360", nil, 200, 640, 360, ""},
		{"H.265 camera", ts, q(h265Cam.url()), nil, 200, 640, 360, ""},
		{"demo", ts, q("demo://") + "&height=180", nil, 200, 320, 180, ""},
		{"no url", ts, "", nil, 400, 0, 0, "missing url parameter"},
		{"bad height", ts, q("demo://") + "&height=x", nil, 400, 0, 0, "height must be"},
		{"text source", ts, q("demo-text://"), nil, 400, 0, 0, "no pictures"},
		{"unreachable camera", ts, q("rtsp://127.0.0.1:" + freePort(t) + "/stream"), nil, 502, 0, 0, "cannot reach the camera"},
		{"no keyframe in time", ts, q(stalled.url()), nil, 504, 0, 0, "no keyframe within the source timeout"},
		{"no ffmpeg", noFFmpeg, q("demo://"), nil, 503, 0, 0, "snapshots need ffmpeg"},
		{"unknown id", ts, "id=0123456789abcdef", nil, 404, 0, 0, "no running stream"},
		{"foreign origin", ts, q("demo://"), http.Header{"Origin": {"https://evil.example"}}, 403, 0, 0, "not allowed"},
		{"foreign page's image", ts, q("demo://"), http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, 0, 0, "not for other sites"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, w, h, msg := getSnapshot(t, tc.server, tc.query, tc.header)
			if status != tc.status || w != tc.width || h != tc.height || !strings.Contains(msg, tc.message) {
				t.Errorf("%d %dx%d %q, want %d %dx%d %q", status, w, h, msg, tc.status, tc.width, tc.height, tc.message)
			}
		})
	}
	t.Run("by id", func(t *testing.T) {
		viewer := dial(t, ts.liveURL(h264Cam.url()))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := recordMedia(ctx, viewer, nil, 1); err != nil {
			t.Fatal(err)
		}
		keepReading(t, viewer)
		var id string
		for _, s := range ts.hub.Streams() {
			if s.URL == h264Cam.url() {
				id = s.ID
			}
		}
		if status, w, _, msg := getSnapshot(t, ts, "id="+id, nil); status != 200 || w != 1280 {
			t.Errorf("snapshot of %s by id: %d %d %q", h264Cam.url(), status, w, msg)
		}
	})
}

// TestSnapshotsShareWork: repeated calls within a second get the picture
// made for the first, and a hundred at once run at most -max-transcodes
// ffmpeg at a time.
func TestSnapshotsShareWork(t *testing.T) {
	calls := filepath.Join(t.TempDir(), "calls")
	counting := fakeFFmpeg(t, `echo >> `+calls+`; exec $FFMPEG "$@"`)
	small := makeClip(t, "small", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264", "-bf", "0", "-g", "25", "-pix_fmt", "yuv420p")
	cam := startTestCamera(t, small)
	ts := startTestServer(t, func(cfg *Config) {
		cfg.Live.FFmpeg = counting
		cfg.Live.MaxTranscodes = 2
	})
	src := "url=" + url.QueryEscape(cam.url())
	for range 3 {
		if status, _, _, msg := getSnapshot(t, ts, src, nil); status != 200 {
			t.Fatalf("%d %s", status, msg)
		}
	}
	if n := countLines(t, calls); n != 1 {
		t.Errorf("3 snapshots in a row ran ffmpeg %d times, want 1", n)
	}

	var most atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if n := int32(len(ffmpegChildren()) + len(shChildren())); n > most.Load() {
				most.Store(n)
			}
		}
	})
	var calls2 sync.WaitGroup
	statuses := make([]int, 100)
	errs := make([]error, len(statuses))
	for i := range statuses {
		calls2.Go(func() {
			statuses[i], _, _, _, errs[i] = fetchSnapshot(ts, fmt.Sprintf("%s&height=%d", src, 20+2*i), nil, time.Minute)
		})
	}
	calls2.Wait()
	close(stop)
	wg.Wait()
	for i, s := range statuses {
		if s != 200 || errs[i] != nil {
			t.Errorf("snapshot %d: %d %v", i, s, errs[i])
		}
	}
	t.Logf("at most %d ffmpeg at once for 100 snapshots", most.Load())
	if most.Load() > 2 {
		t.Errorf("%d ffmpeg at once, want at most -max-transcodes 2", most.Load())
	}
}

// shChildren lists the shell scripts standing in for ffmpeg that run.
func shChildren() []string {
	var out []string
	for _, pid := range childProcesses() {
		if comm, _ := os.ReadFile("/proc/" + pid + "/comm"); strings.TrimSpace(string(comm)) == "ffmpeg" {
			continue
		} else if strings.TrimSpace(string(comm)) == "sh" {
			out = append(out, pid)
		}
	}
	return out
}

func countLines(t testing.TB, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}
