package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeFFmpeg writes a shell script standing in for ffmpeg and returns its
// path. Its body sees the arguments as "$@"; $FFMPEG is the real ffmpeg.
func fakeFFmpeg(t testing.TB, body string) string {
	t.Helper()
	real, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg not found on PATH")
	}
	path := filepath.Join(t.TempDir(), "ffmpeg")
	script := "#!/bin/sh\nFFMPEG=" + real + "\n" + body + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTranscoderFaults: an ffmpeg that exits, hangs or writes garbage is
// killed and started again with backoff, its viewers told why; nothing of
// it is left afterwards.
func TestTranscoderFaults(t *testing.T) {
	cam := startTestCamera(t, h265Clip(t))
	cases := []struct {
		name, script, reason string
	}{
		{"exits at once", `echo "boom: no such codec" >&2; exit 1`, "boom: no such codec"},
		{"hangs", `exec sleep 60`, "ffmpeg took no input for the source timeout"},
		{"writes garbage", `exec cat /dev/urandom`, "ffmpeg wrote what is not MPEG-TS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startTestServer(t, func(cfg *Config) {
				cfg.Live.FFmpeg = fakeFFmpeg(t, tc.script)
				cfg.Live.TranscodeEncoder = encoderSoftware
			})
			base := snapshot()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := dial(t, ts.liveURL(cam.url())+"&codecs=avc1,mp4a")
			var attempts []int
			for len(attempts) < 2 {
				m := waitStatus(t, ctx, c, stateReconnecting, nil)
				if !strings.Contains(m.Reason, tc.reason) {
					t.Fatalf("reconnecting because %q, want %q", m.Reason, tc.reason)
				}
				if !strings.HasPrefix(m.Reason, "the transcoder failed") {
					// The source's own reconnecting, mirrored: not ours.
					continue
				}
				attempts = append(attempts, m.Attempt)
			}
			if attempts[1] <= attempts[0] {
				t.Errorf("attempts %v do not count up: no backoff", attempts)
			}
			c.Close(websocket.StatusNormalClosure, "")
			waitFor(t, 10*time.Second, "no child process left", func() bool { return len(childProcesses()) == 0 })
			ts.expectDrained(t, base)
		})
	}
}

// TestTranscoderKilled: ffmpeg killed in the middle of a stream is started
// again, and its viewers carry on, on one timeline.
func TestTranscoderKilled(t *testing.T) {
	cam := startTestCamera(t, h265Clip(t))
	ts := startTestServer(t, func(cfg *Config) { cfg.Live.TranscodeEncoder = encoderSoftware })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dial(t, ts.liveURL(cam.url())+"&codecs=avc1,mp4a")
	rec, err := recordMedia(ctx, c, nil, 20)
	if err != nil {
		t.Fatal(err)
	}
	pids := ffmpegChildren()
	if len(pids) != 1 {
		t.Fatalf("%d ffmpeg processes, want 1", len(pids))
	}
	pid, _ := strconv.Atoi(pids[0])
	proc, _ := os.FindProcess(pid)
	proc.Kill()
	m := waitStatus(t, ctx, c, stateReconnecting, rec)
	t.Logf("after SIGKILL: %s", m.Reason)
	if rec, err = recordMedia(ctx, c, rec, 30); err != nil {
		t.Fatal(err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	p := probeRecording(t, rec)
	if p.videoCodec != "h264" || p.videoFrames != rec.video {
		t.Errorf("ffprobe sees %+v, want the %d h264 frames received", p, rec.video)
	}
	if p.maxVideoStep > time.Second {
		t.Errorf("the timeline jumps by %v across the restart", p.maxVideoStep)
	}
}

// TestTranscodeWithoutFFmpeg: without ffmpeg, sources still pass through,
// and what needs transcoding says why.
func TestTranscodeWithoutFFmpeg(t *testing.T) {
	cam := startTestCamera(t, h265Clip(t))
	ts := startTestServer(t, func(cfg *Config) { cfg.Live.FFmpeg = "/nonexistent/ffmpeg" })
	base := snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pass := dial(t, ts.liveURL(cam.url()))
	if _, err := recordMedia(ctx, pass, nil, 5); err != nil {
		t.Fatal(err)
	}
	keepReading(t, pass)
	c := dial(t, ts.liveURL(cam.url())+"&codecs=avc1,mp4a")
	ce, msgs := readClose(t, c, 15*time.Second)
	want := "H.265 needs transcoding and ffmpeg was not found at /nonexistent/ffmpeg: install ffmpeg or fix -ffmpeg"
	if int(ce.Code) != closeSourceFailed || len(msgs) == 0 || msgs[len(msgs)-1].Message != want {
		t.Errorf("closed %v after %+v; want %d and %q", ce, msgs, closeSourceFailed, want)
	}
	pass.CloseNow()
	ts.expectDrained(t, base)
}

// TestMaxTranscodes: past -max-transcodes, an output that needs ffmpeg is
// refused with 4429 and a reason; outputs that do not, are not.
func TestMaxTranscodes(t *testing.T) {
	cam := startTestCamera(t, h265Clip(t))
	ts := startTestServer(t, func(cfg *Config) {
		cfg.Live.MaxTranscodes = 1
		cfg.Live.TranscodeEncoder = encoderSoftware
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first := dial(t, ts.liveURL(cam.url())+"&codecs=avc1&height=240")
	if _, err := recordMedia(ctx, first, nil, 5); err != nil {
		t.Fatal(err)
	}
	keepReading(t, first)
	second := dial(t, ts.liveURL(cam.url())+"&codecs=avc1&height=180")
	ce, msgs := readClose(t, second, 15*time.Second)
	if int(ce.Code) != closeTooMany || len(msgs) == 0 || !strings.Contains(msgs[len(msgs)-1].Message, "too many transcodes") {
		t.Errorf("second transcode closed %v after %+v, want 4429 saying too many transcodes", ce, msgs)
	}
	same := dial(t, ts.liveURL(cam.url())+"&codecs=avc1&height=240")
	if _, err := recordMedia(ctx, same, nil, 5); err != nil {
		t.Errorf("a viewer of the running transcode: %v", err)
	}
	first.CloseNow()
	same.CloseNow()
}

// TestEncoderChoice: auto picks a hardware encoder whose one-frame trial
// succeeds, libx264 when none does, and a hardware encoder that fails
// mid-stream gives way to libx264 for that transcode.
func TestEncoderChoice(t *testing.T) {
	ctx := context.Background()
	real, _ := exec.LookPath("ffmpeg")
	if got := (&encoderChooser{configured: encoderAuto, log: testLogger(t)}).choose(ctx, real); got != encoderSoftware {
		t.Errorf("auto chose %s on a machine without hardware encoders, want libx264", got)
	}
	vaapi := fakeFFmpeg(t, `case "$*" in *h264_vaapi*"-f null"*) exit 0;; esac; exec $FFMPEG "$@"`)
	if got := (&encoderChooser{configured: encoderAuto, log: testLogger(t)}).choose(ctx, vaapi); got != "h264_vaapi" {
		t.Errorf("auto chose %s where the VAAPI trial succeeds, want h264_vaapi", got)
	}

	failing := fakeFFmpeg(t, `case "$*" in *h264_vaapi*) echo "vaapi: device lost" >&2; exit 1;; esac; exec $FFMPEG "$@"`)
	cam := startTestCamera(t, h265Clip(t))
	ts := startTestServer(t, func(cfg *Config) {
		cfg.Live.FFmpeg = failing
		cfg.Live.TranscodeEncoder = "h264_vaapi"
	})
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c := dial(t, ts.liveURL(cam.url())+"&codecs=avc1")
	rec, err := recordMedia(cctx, c, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	if enc := rec.inits[len(rec.inits)-1].Transcode.Video.Encoder; enc != encoderSoftware {
		t.Errorf("the transcode says it encodes with %s, want the fallback libx264", enc)
	}
}

// TestBinaryKilledLeavesNoFFmpeg: decoder killed with SIGKILL, which it
// cannot catch, leaves no ffmpeg running.
func TestBinaryKilledLeavesNoFFmpeg(t *testing.T) {
	cam := startTestCamera(t, h265Clip(t))
	p := startDecoder(t, []string{"PORT=" + freePort(t)}, "-headless", "-transcode-encoder", encoderSoftware)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := dial(t, p.liveURL(cam.url())+"&codecs=avc1")
	if _, err := recordMedia(ctx, c, nil, 5); err != nil {
		t.Fatal(err)
	}
	var ffmpeg []string
	waitFor(t, 5*time.Second, "decoder's ffmpeg", func() bool {
		ffmpeg = nil
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p.cmd.Process.Pid))
		for _, task := range tasks {
			data, _ := os.ReadFile(task)
			for _, pid := range strings.Fields(string(data)) {
				if comm, _ := os.ReadFile("/proc/" + pid + "/comm"); strings.TrimSpace(string(comm)) == "ffmpeg" {
					ffmpeg = append(ffmpeg, pid)
				}
			}
		}
		return len(ffmpeg) > 0
	})
	p.cmd.Process.Kill()
	p.wait(t, 5*time.Second)
	waitFor(t, 5*time.Second, "ffmpeg to die with decoder", func() bool {
		for _, pid := range ffmpeg {
			if _, err := os.Stat("/proc/" + pid); err == nil {
				if stat, _ := os.ReadFile("/proc/" + pid + "/stat"); !strings.Contains(string(stat), ") Z ") {
					return false
				}
			}
		}
		return true
	})
}
