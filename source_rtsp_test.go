package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/coder/websocket"
)

// recordAll has each viewer record videoFrames more video fragments at
// once, continuing recs (nil entries start new recordings).
func recordAll(t *testing.T, ctx context.Context, conns []*websocket.Conn, recs []*recording, videoFrames int) []*recording {
	t.Helper()
	if recs == nil {
		recs = make([]*recording, len(conns))
	}
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() { recs[i], errs[i] = recordMedia(ctx, c, recs[i], videoFrames) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return recs
}

// waitStatus reads until a status message of state. Fragments on the way
// are added to rec, when given, or skipped.
func waitStatus(t *testing.T, ctx context.Context, c *websocket.Conn, state string, rec *recording) serverMessage {
	t.Helper()
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for status %s: %v", state, err)
		}
		var m serverMessage
		if typ == websocket.MessageText && json.Unmarshal(data, &m) == nil && m.Type == "status" && m.State == state {
			return m
		}
		if typ == websocket.MessageBinary && rec != nil {
			rec.stream.Write(data)
			rec.fragments++
			if track, _, _ := fragmentTrack(data); track == videoTrackID {
				rec.video++
			}
		}
	}
}

// TestRTSPViewersShareOneSession: ten viewers of one camera are one RTSP
// session; each gets a stream that decodes frame for frame; a late viewer
// starts at once at the buffered keyframe, or at the next one if it asks;
// and the session is torn down after the last viewer leaves and the
// linger passes.
func TestRTSPViewersShareOneSession(t *testing.T) {
	cam := startTestCamera(t, demoClip)
	ts := startTestServer(t, nil)
	base := snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const viewers, frames = 10, 25
	conns := make([]*websocket.Conn, viewers)
	for i := range conns {
		conns[i] = dial(t, ts.liveURL(cam.url()))
	}
	recs := recordAll(t, ctx, conns, nil, frames)
	for _, c := range conns {
		keepReading(t, c)
	}
	for i, rec := range recs {
		if len(rec.inits) != 1 {
			t.Fatalf("viewer %d got %d inits", i, len(rec.inits))
		}
		p := probeRecording(t, rec)
		if p.videoFrames != frames || p.videoCodec != "h264" || p.audioCodec != "aac" {
			t.Errorf("viewer %d: ffprobe sees %+v, want %d h264 frames and aac", i, p, frames)
		}
	}
	if opened, _, _ := cam.sessions(); opened != 1 {
		t.Errorf("camera saw %d RTSP sessions for %d viewers, want 1", opened, viewers)
	}

	// Late viewers join mid-GOP: one from the buffered keyframe at once,
	// one from the next keyframe.
	time.Sleep(500 * time.Millisecond)
	for _, start := range []string{"", "next"} {
		c := dial(t, ts.liveURL(cam.url())+"&start="+start)
		rec, err := recordMedia(ctx, c, nil, frames)
		if err != nil {
			t.Fatalf("late viewer (start=%q): %v", start, err)
		}
		t.Logf("late viewer (start=%q): first fragment after %v", start, rec.firstMedia)
		if start == "" && rec.firstMedia > 200*time.Millisecond {
			t.Errorf("late viewer waited %v for its first frame, want it at once from the buffered keyframe", rec.firstMedia)
		}
		if p := probeRecording(t, rec); p.videoFrames != frames {
			t.Errorf("late viewer (start=%q): ffprobe counted %d frames, want %d", start, p.videoFrames, frames)
		}
		keepReading(t, c)
		conns = append(conns, c)
	}

	for _, c := range conns {
		c.CloseNow()
	}
	waitFor(t, 5*time.Second, "the RTSP session to close", func() bool {
		_, closed, _ := cam.sessions()
		return closed == 1
	})
	if _, _, errs := cam.sessions(); !errors.As(errs[0], new(liberrors.ErrServerSessionTornDown)) {
		t.Errorf("RTSP session ended with %v, want a TEARDOWN", errs[0])
	}
	ts.expectDrained(t, base)
}

// TestRTSPCameraRestart: viewers stay connected while the camera is gone,
// are told so, and carry on when it returns, on one unbroken timeline.
func TestRTSPCameraRestart(t *testing.T) {
	cam := startTestCamera(t, demoClip)
	ts := startTestServer(t, nil)
	base := snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conns := make([]*websocket.Conn, 3)
	for i := range conns {
		conns[i] = dial(t, ts.liveURL(cam.url()))
	}
	recs := recordAll(t, ctx, conns, nil, 10)
	cam.Stop()
	for i, c := range conns {
		m := waitStatus(t, ctx, c, stateReconnecting, recs[i])
		if m.Reason == "" {
			t.Errorf("reconnecting status without a reason")
		}
	}
	cam.Restart()
	recs = recordAll(t, ctx, conns, recs, 25)
	for i, rec := range recs {
		if len(rec.inits) != 1 {
			t.Errorf("viewer %d got %d inits, want 1: the stream did not change", i, len(rec.inits))
		}
		if !strings.Contains(strings.Join(rec.statuses, ","), stateLive) {
			t.Errorf("viewer %d: statuses %v lack live after the restart", i, rec.statuses)
		}
		p := probeRecording(t, rec)
		if p.videoFrames != rec.video || rec.video < 35 {
			t.Errorf("viewer %d: ffprobe counted %d frames, want the %d received (at least 35)", i, p.videoFrames, rec.video)
		}
		if p.maxVideoStep > 40*time.Millisecond {
			t.Errorf("viewer %d: the timeline jumps by %v across the restart", i, p.maxVideoStep)
		}
	}
	if opened, _, _ := cam.sessions(); opened != 2 {
		t.Errorf("camera saw %d sessions, want 2 (before and after the restart)", opened)
	}
	for _, c := range conns {
		c.Close(websocket.StatusNormalClosure, "")
	}
	ts.expectDrained(t, base)
}

// TestRTSPCameraStalls: a camera that keeps its connection but sends
// nothing is given up within the source timeout and called again; viewers
// carry on when it sends again.
func TestRTSPCameraStalls(t *testing.T) {
	cam := startTestCamera(t, demoClip)
	ts := startTestServer(t, nil)
	base := snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dial(t, ts.liveURL(cam.url()))
	rec, err := recordMedia(ctx, c, nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	cam.paused.Store(true)
	stalled := time.Now()
	m := waitStatus(t, ctx, c, stateReconnecting, nil)
	t.Logf("stall noticed after %v: %s", time.Since(stalled).Round(time.Millisecond), m.Reason)
	if !strings.Contains(m.Reason, "stalled") {
		t.Errorf("reason %q does not say the camera stalled", m.Reason)
	}
	if limit := ts.cfg.Live.Sources.Timeout + time.Second; time.Since(stalled) > limit {
		t.Errorf("stall noticed after %v, want within %v", time.Since(stalled), limit)
	}
	cam.paused.Store(false)
	if _, err := recordMedia(ctx, c, rec, 25); err != nil {
		t.Fatal(err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	ts.expectDrained(t, base)
}

// TestRTSPCodecs: the MIME type and sizes come from the stream itself,
// B-frames keep their order, and what viewers get decodes.
func TestRTSPCodecs(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		mime          string
		width, height int
		videoCodec    string
		audioCodec    string
	}{
		{
			name: "H.265 with AAC stereo",
			args: []string{"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=2", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2",
				"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=25:min-keyint=25:bframes=0:log-level=error", "-pix_fmt", "yuv420p",
				"-c:a", "aac", "-ac", "2"},
			mime:  `video/mp4; codecs="hvc1.1.6.L63.90,mp4a.40.2"`,
			width: 640, height: 360, videoCodec: "hevc", audioCodec: "aac",
		},
		{
			name: "H.264 High with B-frames, no audio",
			args: []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
				"-c:v", "libx264", "-profile:v", "high", "-bf", "2", "-g", "25", "-pix_fmt", "yuv420p"},
			mime:  `video/mp4; codecs="avc1.64000d"`,
			width: 320, height: 240, videoCodec: "h264",
		},
	}
	ts := startTestServer(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clip := makeClip(t, strings.ReplaceAll(tt.name, " ", "_"), tt.args...)
			cam := startTestCamera(t, clip)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := dial(t, ts.liveURL(cam.url()))
			rec, err := recordMedia(ctx, c, nil, 30)
			if err != nil {
				t.Fatal(err)
			}
			c.Close(websocket.StatusNormalClosure, "")
			info := rec.inits[0]
			if info.MIME != tt.mime || info.Video.Width != tt.width || info.Video.Height != tt.height {
				t.Errorf("init = %s %dx%d, want %s %dx%d", info.MIME, info.Video.Width, info.Video.Height, tt.mime, tt.width, tt.height)
			}
			p := probeRecording(t, rec)
			if p.videoCodec != tt.videoCodec || p.audioCodec != tt.audioCodec || p.videoFrames != 30 {
				t.Errorf("ffprobe sees %+v, want %s/%s with 30 frames", p, tt.videoCodec, tt.audioCodec)
			}
		})
	}
}

// TestRTSPResolutionChange: a camera that changes its picture size sends
// new parameter sets; viewers get a second init, at a keyframe.
func TestRTSPResolutionChange(t *testing.T) {
	small := makeClip(t, "small", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264", "-bf", "0", "-g", "25", "-pix_fmt", "yuv420p")
	large := makeClip(t, "large", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25:duration=1", "-c:v", "libx264", "-bf", "0", "-g", "25", "-pix_fmt", "yuv420p")
	cam := startTestCamera(t, small, large)
	ts := startTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := dial(t, ts.liveURL(cam.url()))
	rec, err := recordMedia(ctx, c, nil, 60)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.inits) < 2 || rec.segments != len(rec.inits) {
		t.Fatalf("got %d inits and %d init segments over two sizes, want at least 2 of each", len(rec.inits), rec.segments)
	}
	sizes := map[string]bool{}
	for _, info := range rec.inits {
		sizes[fmt.Sprintf("%dx%d", info.Video.Width, info.Video.Height)] = true
	}
	if !sizes["320x240"] || !sizes["640x480"] {
		t.Errorf("inits announce sizes %v, want 320x240 and 640x480", sizes)
	}
}

// TestRTSPBadSources: each way a camera can be wrong ends in a message a
// user can act on, never shows credentials, and leaks nothing.
func TestRTSPBadSources(t *testing.T) {
	cam := startTestCamera(t, demoClip)
	cam.user, cam.pass = "admin", "s3cret-pw"
	refused := freePort(t)
	garbage := startGarbageServer(t)
	ts := startTestServer(t, func(cfg *Config) { cfg.Live.Sources.Retries = 1 })
	base := snapshot()

	tests := []struct {
		name   string
		url    string
		code   int
		reason string // in the close reason or a message
	}{
		{"unreachable", "rtsp://127.0.0.1:" + refused + "/stream", closeSourceFailed, "cannot reach the camera"},
		{"wrong credentials", "rtsp://admin:wrong-pw@" + cam.addr + "/stream", closeSourceFailed, "refused the credentials (401"},
		{"no credentials", "rtsp://" + cam.addr + "/stream", closeSourceFailed, "refused the credentials (401"},
		{"no such stream", "rtsp://admin:s3cret-pw@" + cam.addr + "/nothing", closeSourceFailed, "no such stream (404"},
		{"not RTSP", "rtsp://" + strings.TrimPrefix(ts.base, "http://") + "/", closeSourceFailed, "gave up after 2 failed attempts: the server closed the connection without an RTSP answer"},
		{"garbage", "rtsp://" + garbage + "/stream", closeSourceFailed, "gave up after 2 failed attempts: the server did not answer in RTSP"},
		{"no host", "rtsp:///stream", closeBadRequest, "missing host"},
		{"transport", cam.url() + "&transport=sctp", closeBadRequest, "transport must be tcp or udp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := ts.liveURL(tt.url)
			if tt.name == "transport" {
				u = ts.liveURL(cam.url()) + "&transport=sctp"
			}
			c := dial(t, u)
			ce, msgs := readClose(t, c, 15*time.Second)
			all := ce.Reason
			for _, m := range msgs {
				all += "\n" + m.Type + ": " + m.Message + m.Reason
			}
			t.Logf("closed with %d:\n%s", ce.Code, all)
			if int(ce.Code) != tt.code || !strings.Contains(all, tt.reason) {
				t.Errorf("closed with %d, saw:\n%s\nwant %d and %q", ce.Code, all, tt.code, tt.reason)
			}
			for _, secret := range []string{"wrong-pw", "s3cret-pw"} {
				if strings.Contains(all, secret) {
					t.Errorf("credentials shown to the viewer: %s", all)
				}
			}
		})
	}
	ts.expectDrained(t, base)
}

// startGarbageServer accepts connections and answers anything with bytes
// that are not RTSP.
func startGarbageServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				conn.Read(buf)
				conn.Write([]byte("\x00\xffRTSP/9.9 banana\r\n\x01\x02\x03\r\n\r\n garbage \xfe\xfd"))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// TestGStreamerRTSPServer plays a camera served by an independent RTSP
// implementation: GStreamer's RTSP server, run as its own process.
func TestGStreamerRTSPServer(t *testing.T) {
	requireFFmpeg(t)
	python := "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')").CombinedOutput(); err != nil {
		t.Fatalf("GStreamer's RTSP server is missing (./deps.sh installs it): %v\n%s", err, out)
	}
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, python, "testdata/gst-rtsp-server.py", port)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	waitFor(t, 10*time.Second, "GStreamer's RTSP server to listen", func() bool {
		conn, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})

	ts := startTestServer(t, nil)
	base := snapshot()
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rcancel()
	for _, transport := range []string{"tcp", "udp"} {
		c := dial(t, ts.liveURL("rtsp://127.0.0.1:"+port+"/test")+"&transport="+transport)
		rec, err := recordMedia(rctx, c, nil, 25)
		if err != nil {
			t.Fatalf("over %s: %v\nserver: %s", transport, err, stderr.String())
		}
		c.Close(websocket.StatusNormalClosure, "")
		if got := rec.inits[0]; got.Video.Width != 640 || got.Video.Height != 360 || !strings.HasPrefix(got.MIME, `video/mp4; codecs="avc1.`) {
			t.Errorf("over %s: init %+v", transport, got)
		}
		if p := probeRecording(t, rec); p.videoFrames != 25 || p.videoCodec != "h264" {
			t.Errorf("over %s: ffprobe sees %+v, want 25 h264 frames", transport, p)
		}
	}
	// Another implementation's H.265 and G.711, converted for a browser
	// that plays H.264, AAC and FLAC.
	for _, tc := range []struct{ path, audio, audioFrom string }{
		{"/h265", "", ""}, {"/alaw", "flac", "G.711 A-law"}, {"/mulaw", "flac", "G.711 µ-law"},
	} {
		c := dial(t, ts.liveURL("rtsp://127.0.0.1:"+port+tc.path)+"&codecs=avc1,mp4a,flac")
		rec, err := recordMedia(rctx, c, nil, 25)
		if err != nil {
			t.Fatalf("%s: %v\nserver: %s", tc.path, err, stderr.String())
		}
		c.Close(websocket.StatusNormalClosure, "")
		p := probeRecording(t, rec)
		if p.videoCodec != "h264" || p.videoFrames != 25 || p.audioCodec != tc.audio {
			t.Errorf("%s: ffprobe sees %+v, want 25 h264 frames and audio %q", tc.path, p, tc.audio)
		}
		if tr := rec.inits[0].Transcode; tc.audio != "" && (tr == nil || tr.Audio == nil || tr.Audio.From != tc.audioFrom) {
			t.Errorf("%s: init says it converts %+v, want %s", tc.path, tr, tc.audioFrom)
		}
	}
	waitFor(t, 10*time.Second, "ffmpeg to stop", func() bool { return len(ffmpegChildren()) == 0 })
	ts.expectDrained(t, base)
}
