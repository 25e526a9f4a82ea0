package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// ffmpegChildren lists the ffmpeg processes the test process runs: those
// of the servers it started.
func ffmpegChildren() []string {
	var out []string
	for _, pid := range childProcesses() {
		if comm, _ := os.ReadFile("/proc/" + pid + "/comm"); strings.TrimSpace(string(comm)) == "ffmpeg" {
			out = append(out, pid)
		}
	}
	return out
}

// h265Clip is 4 s of 640x360 H.265 with AAC stereo, a keyframe a second.
func h265Clip(t testing.TB) []byte {
	return makeClip(t, "h265-aac", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=4", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=4",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=25:min-keyint=25:bframes=0:log-level=error", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-ac", "2")
}

// TestTranscodeH265: viewers of an H.265 camera whose browser plays only
// H.264 get H.264, from one ffmpeg for all of them, with the camera's AAC;
// what they get decodes frame for frame; the ffmpeg is gone after the
// linger.
func TestTranscodeH265(t *testing.T) {
	cam := startTestCamera(t, h265Clip(t))
	ts := startTestServer(t, nil)
	base := snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conns := make([]*websocket.Conn, 5)
	for i := range conns {
		conns[i] = dial(t, ts.liveURL(cam.url())+"&codecs=avc1,mp4a")
	}
	recs := recordAll(t, ctx, conns, nil, 30)
	for _, c := range conns {
		keepReading(t, c)
	}
	for i, rec := range recs {
		info := rec.inits[0]
		if !strings.HasPrefix(info.MIME, `video/mp4; codecs="avc1.`) || !strings.Contains(info.MIME, "mp4a.40.2") {
			t.Errorf("viewer %d: init %s, want H.264 with AAC", i, info.MIME)
		}
		if info.Transcode == nil || info.Transcode.Video == nil || info.Transcode.Video.From != "H.265 640x360" || info.Transcode.Video.Encoder == "" {
			t.Errorf("viewer %d: init does not say what is transcoded: %+v", i, info.Transcode)
		}
		p := probeRecording(t, rec)
		if p.videoCodec != "h264" || p.videoFrames != 30 || p.audioCodec != "aac" {
			t.Errorf("viewer %d: ffprobe sees %+v, want 30 h264 frames and aac", i, p)
		}
	}
	if n := len(ffmpegChildren()); n != 1 {
		t.Errorf("%d ffmpeg processes for 5 viewers of one output, want 1", n)
	}
	if opened, _, _ := cam.sessions(); opened != 1 {
		t.Errorf("the camera saw %d sessions, want 1", opened)
	}
	for _, c := range conns {
		c.Close(websocket.StatusNormalClosure, "")
	}
	waitFor(t, 10*time.Second, "ffmpeg to stop after the linger", func() bool { return len(ffmpegChildren()) == 0 })
	ts.expectDrained(t, base)
}

// g711Audio is 4 s of a 440 Hz tone as 8 kHz G.711, A-law or µ-law.
func g711Audio(t testing.TB, mulaw bool) []byte {
	law := map[bool]string{false: "alaw", true: "mulaw"}[mulaw]
	return makeMedia(t, "tone-"+law, law, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=4")
}

// TestG711ToFLAC: a camera's G.711 audio, which no browser plays, reaches a
// browser that plays FLAC as FLAC, converted in decoder: it decodes, and
// it is as long as the video.
func TestG711ToFLAC(t *testing.T) {
	for _, mulaw := range []bool{false, true} {
		name := map[bool]string{false: "A-law", true: "µ-law"}[mulaw]
		t.Run(name, func(t *testing.T) {
			cam := &testCamera{t: t, clips: [][]byte{demoClip}, g711: g711Audio(t, mulaw), mulaw: mulaw}
			cam.start()
			t.Cleanup(cam.Stop)
			ts := startTestServer(t, nil)
			base := snapshot()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := dial(t, ts.liveURL(cam.url())+"&codecs=avc1,mp4a,flac")
			rec, err := recordMedia(ctx, c, nil, 50)
			if err != nil {
				t.Fatal(err)
			}
			c.Close(websocket.StatusNormalClosure, "")
			info := rec.inits[0]
			if info.Audio == nil || info.Audio.Codec != "flac" || info.Audio.SampleRate != 8000 || info.Transcode == nil ||
				info.Transcode.Audio == nil || info.Transcode.Audio.From != "G.711 "+name || info.Transcode.Video != nil {
				t.Errorf("init %+v (audio %+v, transcode %+v), want FLAC from G.711 %s and the video as it is", info, info.Audio, info.Transcode, name)
			}
			p := probeRecording(t, rec)
			if p.audioCodec != "flac" || p.videoCodec != "h264" || p.audioRate != 8000 {
				t.Fatalf("ffprobe sees %+v, want h264 with flac at 8 kHz", p)
			}
			// 50 frames are 2 s; audio may start up to a frame or two
			// after the video and end a block before it.
			if want := 16000; p.audioSamples < want-2400 || p.audioSamples > want+800 {
				t.Errorf("%d audio samples for 2 s of video, want about %d", p.audioSamples, want)
			}
			if len(ffmpegChildren()) != 0 {
				t.Error("G.711 to FLAC ran ffmpeg")
			}
			ts.expectDrained(t, base)
		})
	}
}

// TestG711ToAAC: for a browser that plays AAC but not FLAC, G.711 is
// transcoded to AAC through ffmpeg, the video copied beside it.
func TestG711ToAAC(t *testing.T) {
	cam := &testCamera{t: t, clips: [][]byte{demoClip}, g711: g711Audio(t, false)}
	cam.start()
	t.Cleanup(cam.Stop)
	ts := startTestServer(t, func(cfg *Config) { cfg.Live.TranscodeEncoder = encoderSoftware })
	base := snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := dial(t, ts.liveURL(cam.url())+"&codecs=avc1,mp4a")
	rec, err := recordMedia(ctx, c, nil, 50)
	if err != nil {
		t.Fatal(err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	info := rec.inits[0]
	if info.Audio == nil || !strings.HasPrefix(info.Audio.Codec, "mp4a.40.") || info.Transcode == nil || info.Transcode.Audio == nil ||
		info.Transcode.Audio.To != "AAC" || info.Transcode.Video != nil {
		t.Errorf("init %s (transcode %+v), want AAC made of G.711 and the video as it is", info.MIME, info.Transcode)
	}
	p := probeRecording(t, rec)
	if p.audioCodec != "aac" || p.videoCodec != "h264" || p.videoFrames != 50 {
		t.Fatalf("ffprobe sees %+v, want 50 h264 frames with aac", p)
	}
	seconds := float64(p.audioSamples) / float64(p.audioRate)
	if seconds < 1.5 || seconds > 2.3 {
		t.Errorf("%.2f s of audio for 2 s of video", seconds)
	}
	ts.expectDrained(t, base)
}
