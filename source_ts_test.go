package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
	"github.com/coder/websocket"
)

// TestFileSources: file:// plays only from -media-dir, whatever path a page
// names, and says what is wrong otherwise.
func TestFileSources(t *testing.T) {
	media := t.TempDir()
	outside := t.TempDir()
	for dir, name := range map[string]string{media: "clip.ts", outside: "secret.ts"} {
		if err := os.WriteFile(filepath.Join(dir, name), demoClip, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(media, "notes.ts"), []byte("not a transport stream"), 0o644)
	os.Symlink(filepath.Join(outside, "secret.ts"), filepath.Join(media, "link.ts"))
	os.Mkdir(filepath.Join(media, "sub"), 0o755)

	ts := startTestServer(t, func(cfg *Config) { cfg.Live.Sources.MediaDir = media })
	off := startTestServer(t, nil)
	base := snapshot()
	tests := []struct {
		name   string
		server *testServer
		url    string
		code   int    // close code; 0 when it plays
		reason string // in the close reason
	}{
		{"plays", ts, "file:///clip.ts", 0, ""},
		{"plays looping", ts, "file:///clip.ts?loop=true", 0, ""},
		{"off without -media-dir", off, "file:///clip.ts", closeBadRequest, "start decoder with -media-dir"},
		{"escape with dot-dot", ts, "file:///../" + filepath.Base(outside) + "/secret.ts", closeSourceFailed, "no file"},
		{"escape with a link", ts, "file:///link.ts", closeSourceFailed, "outside the media directory"},
		{"missing", ts, "file:///nothing.ts", closeSourceFailed, `no file "nothing.ts"`},
		{"directory", ts, "file:///sub", closeSourceFailed, "not a regular file"},
		{"not MPEG-TS", ts, "file:///notes.ts", closeSourceFailed, "not a playable MPEG-TS stream"},
		{"unknown parameter", ts, "file:///clip.ts?speed=2", closeBadRequest, `unknown parameter "speed"`},
		{"demo takes no parameters", ts, "demo://?x=1", closeBadRequest, "demo:// takes no path or parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := dial(t, tt.server.liveURL(tt.url))
			if tt.code == 0 {
				rec, err := recordMedia(ctx, c, nil, 5)
				if err != nil {
					t.Fatal(err)
				}
				if rec.inits[0].Video.Width != 1280 {
					t.Errorf("init %+v", rec.inits[0])
				}
				c.Close(websocket.StatusNormalClosure, "")
				return
			}
			ce, _ := readClose(t, c, 10*time.Second)
			if int(ce.Code) != tt.code || !strings.Contains(ce.Reason, tt.reason) {
				t.Errorf("closed with %d %q, want %d and %q", ce.Code, ce.Reason, tt.code, tt.reason)
			}
			if strings.Contains(ce.Reason, media) || strings.Contains(ce.Reason, outside) {
				t.Errorf("reason %q shows a directory of the machine", ce.Reason)
			}
		})
	}
	ts.expectDrained(t, base)
}

// TestFileSourceEnds: a file played once ends its viewers with 1000.
func TestFileSourceEnds(t *testing.T) {
	short := makeClip(t, "short", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=0.4", "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p")
	media := t.TempDir()
	os.WriteFile(filepath.Join(media, "short.ts"), short, 0o644)
	ts := startTestServer(t, func(cfg *Config) { cfg.Live.Sources.MediaDir = media })
	c := dial(t, ts.liveURL("file:///short.ts"))
	ce, msgs := readClose(t, c, 10*time.Second)
	if ce.Code != websocket.StatusNormalClosure {
		t.Errorf("closed with %d %q, want 1000", ce.Code, ce.Reason)
	}
	var sawEnded bool
	for _, m := range msgs {
		sawEnded = sawEnded || (m.Type == "status" && m.State == stateEnded)
	}
	if !sawEnded {
		t.Errorf("no ended status before the close")
	}
}

// TestFileTimestampDiscontinuities: files whose timestamps jump back (two
// recordings joined) or wrap at 2^33 still reach viewers as one unbroken
// timeline that starts every run of frames at a keyframe.
func TestFileTimestampDiscontinuities(t *testing.T) {
	encode := []string{"-c:v", "libx264", "-bf", "2", "-g", "12", "-pix_fmt", "yuv420p"}
	a := makeClip(t, "joined-a", append([]string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1"}, encode...)...)
	b := makeClip(t, "joined-b", append([]string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=1"}, encode...)...)
	// 2^33 ticks of 90 kHz are 95443.7 s: this clip's timestamps wrap
	// half a second in.
	wrapping := makeClip(t, "wrapping", append([]string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-output_ts_offset", "95442.5"}, encode...)...)
	media := t.TempDir()
	os.WriteFile(filepath.Join(media, "joined.ts"), append(append([]byte{}, a...), b...), 0o644)
	os.WriteFile(filepath.Join(media, "wrapping.ts"), wrapping, 0o644)
	ts := startTestServer(t, func(cfg *Config) { cfg.Live.Sources.MediaDir = media })
	for _, tt := range []struct {
		name   string
		frames int
	}{{"joined.ts", 45}, {"wrapping.ts", 45}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			c := dial(t, ts.liveURL("file:///"+tt.name))
			rec, err := recordMedia(ctx, c, nil, tt.frames)
			if err != nil {
				t.Fatal(err)
			}
			c.Close(websocket.StatusNormalClosure, "")
			p := probeRecording(t, rec)
			if p.videoFrames != tt.frames {
				t.Errorf("ffprobe counted %d frames, want %d", p.videoFrames, tt.frames)
			}
			// At the join, B-frames make the new keyframe wait for the
			// last frame shown: one frame more.
			if p.maxVideoStep > 80*time.Millisecond {
				t.Errorf("the timeline jumps by %v", p.maxVideoStep)
			}
		})
	}
}

// TestFileBarelyAdvancingTimestamps: a looping file whose timestamps
// advance by one tick per frame is paced by the wall clock too, not played
// as fast as the machine can.
func TestFileBarelyAdvancingTimestamps(t *testing.T) {
	_, aus := clipFrames(t, demoClip)
	var buf bytes.Buffer
	track := &mpegts.Track{Codec: &tscodecs.H264{}}
	w := &mpegts.Writer{W: &buf, Tracks: []*mpegts.Track{track}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	for i, au := range aus[:50] {
		if err := w.WriteH264(track, int64(9000+i), int64(9000+i), au); err != nil {
			t.Fatal(err)
		}
	}
	media := t.TempDir()
	os.WriteFile(filepath.Join(media, "flat.ts"), buf.Bytes(), 0o644)
	ts := startTestServer(t, func(cfg *Config) { cfg.Live.Sources.MediaDir = media })
	base := snapshot()
	c := dial(t, ts.liveURL("file:///flat.ts?loop=true"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	fragments := 0
	for {
		typ, _, err := c.Read(ctx)
		if err != nil {
			break
		}
		if typ == websocket.MessageBinary {
			fragments++
		}
	}
	// At most one frame per minPacketGap (500/s); unpaced, tens of
	// thousands a second.
	t.Logf("%d fragments in 2 s", fragments)
	if fragments == 0 || fragments > 1500 {
		t.Errorf("%d fragments in 2 s, want some and at most 1500", fragments)
	}
	c.CloseNow()
	ts.expectDrained(t, base)
}
