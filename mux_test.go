package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// recording is what one viewer of a media source received.
type recording struct {
	inits     []initInfo // every init message, in order
	statuses  []string
	segments  int // init segments
	fragments int
	keyframes int // fragments whose first sample is a sync sample
	video     int // video fragments
	// stream is init segment and fragments as received: a playable file.
	stream bytes.Buffer
	// firstMedia is how long after dialing the first fragment arrived.
	firstMedia time.Duration
}

// recordMedia reads from c until rec holds videoFrames more video
// fragments, and checks the order a player depends on: init message, then
// init segment, then fragments, the first of them a keyframe. rec carries
// on an earlier recording, or is nil for a new one. It returns errors
// rather than failing the test, so that viewers can record in parallel.
func recordMedia(ctx context.Context, c *websocket.Conn, rec *recording, videoFrames int) (*recording, error) {
	dialed := time.Now()
	if rec == nil {
		rec = &recording{}
	}
	video := 0
	expectSegment := false
	for video < videoFrames {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return rec, fmt.Errorf("after %d video fragments: %w", video, err)
		}
		if typ == websocket.MessageText {
			var m struct {
				Type  string `json:"type"`
				State string `json:"state"`
			}
			json.Unmarshal(data, &m)
			switch m.Type {
			case "init":
				var info initInfo
				if err := json.Unmarshal(data, &info); err != nil {
					return rec, fmt.Errorf("init message %s: %w", data, err)
				}
				rec.inits = append(rec.inits, info)
				expectSegment = true
			case "status":
				rec.statuses = append(rec.statuses, m.State)
			case "error":
				return rec, fmt.Errorf("error message: %s", data)
			}
			continue
		}
		if expectSegment {
			if !bytes.Contains(data[:min(len(data), 16)], []byte("ftyp")) {
				return rec, fmt.Errorf("binary message after init is not an init segment: % x", data[:min(len(data), 16)])
			}
			rec.segments++
			expectSegment = false
			rec.stream.Write(data)
			continue
		}
		if rec.segments == 0 {
			return rec, errors.New("fragment before any init segment")
		}
		track, sync, err := fragmentTrack(data)
		if err != nil {
			return rec, err
		}
		if rec.fragments == 0 {
			rec.firstMedia = time.Since(dialed)
			if track != videoTrackID || !sync {
				return rec, fmt.Errorf("first fragment is not a video keyframe (track %d, sync %v)", track, sync)
			}
		}
		rec.fragments++
		if track == videoTrackID {
			video++
			rec.video++
			if sync {
				rec.keyframes++
			}
		}
		rec.stream.Write(data)
	}
	return rec, nil
}

// fragmentTrack reads the track ID and whether the first sample is a sync
// sample from a moof+mdat that decoder wrote (one traf, trun with flags).
func fragmentTrack(data []byte) (track int, sync bool, err error) {
	tfhd := bytes.Index(data, []byte("tfhd"))
	trun := bytes.Index(data, []byte("trun"))
	if len(data) < 8 || !bytes.Equal(data[4:8], []byte("moof")) || tfhd < 0 || trun < 0 {
		return 0, false, fmt.Errorf("not a moof fragment: % x", data[:min(len(data), 32)])
	}
	track = int(be32(data[tfhd+8:]))
	// trun: version+flags, sample count, data offset, then per sample
	// duration, size, flags when their flag bits are set.
	flags := be32(data[trun+4:]) & 0xffffff
	pos := trun + 12
	if flags&0x1 != 0 {
		pos += 4
	}
	if flags&0x4 != 0 { // first-sample-flags
		return track, be32(data[pos:])&0x10000 == 0, nil
	}
	if flags&0x100 != 0 {
		pos += 4
	}
	if flags&0x200 != 0 {
		pos += 4
	}
	if flags&0x400 != 0 {
		return track, be32(data[pos:])&0x10000 == 0, nil
	}
	return track, true, nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// probe is what ffprobe and ffmpeg make of a recording.
type probe struct {
	videoCodec    string
	width, height int
	videoFrames   int
	audioCodec    string
	// audioRate and audioSamples are the audio's sample rate and its
	// length in samples, decoded.
	audioRate, audioSamples int
	// maxVideoStep is the largest step between consecutive video decode
	// times; a gap or a jump back in the timeline shows in it.
	maxVideoStep time.Duration
}

// probeRecording writes rec to a file, decodes it with ffmpeg, which must
// report no error, and counts its frames with ffprobe.
func probeRecording(t testing.TB, rec *recording) probe {
	t.Helper()
	requireFFmpeg(t)
	path := filepath.Join(t.TempDir(), "viewer.mp4")
	if err := os.WriteFile(path, rec.stream.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("ffmpeg failed to decode what a viewer got (%v):\n%s", err, out)
	}
	out, err = exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries",
		"stream=codec_type,codec_name,width,height,nb_read_frames,sample_rate", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var res struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
			CodecName string `json:"codec_name"`
			Width     int    `json:"width"`
			Height    int    `json:"height"`
			Frames    string `json:"nb_read_frames"`
			Rate      string `json:"sample_rate"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	var p probe
	p.maxVideoStep = videoTimeline(t, path)
	for _, s := range res.Streams {
		switch s.CodecType {
		case "video":
			p.videoCodec, p.width, p.height = s.CodecName, s.Width, s.Height
			p.videoFrames, _ = strconv.Atoi(s.Frames)
		case "audio":
			p.audioCodec = s.CodecName
			p.audioRate, _ = strconv.Atoi(s.Rate)
			pcm, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-map", "0:a:0", "-ac", "1", "-f", "s16le", "-").Output()
			if err != nil {
				t.Fatalf("decoding the audio: %v", err)
			}
			p.audioSamples = len(pcm) / 2
		}
	}
	return p
}

// videoTimeline checks that the video decode times in path only increase
// and returns the largest step between two of them.
func videoTimeline(t testing.TB, path string) time.Duration {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=dts_time", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe packets: %v", err)
	}
	var prev, maxStep float64
	for i, line := range strings.Fields(string(out)) {
		dts, err := strconv.ParseFloat(strings.Trim(line, ","), 64)
		if err != nil {
			t.Fatalf("ffprobe packet line %q", line)
		}
		if i > 0 {
			if dts <= prev {
				t.Fatalf("video decode time goes from %.3f to %.3f s", prev, dts)
			}
			maxStep = max(maxStep, dts-prev)
		}
		prev = dts
	}
	return time.Duration(maxStep * float64(time.Second))
}

// TestDemoPlays checks the built-in stream end to end: the init a browser
// needs, then fragments that decode without error, frame for frame.
func TestDemoPlays(t *testing.T) {
	ts := startTestServer(t, nil)
	base := snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := dial(t, ts.liveURL("demo://"))
	const frames = 30
	rec, err := recordMedia(ctx, c, nil, frames)
	if err != nil {
		t.Fatal(err)
	}
	c.Close(websocket.StatusNormalClosure, "")

	if len(rec.inits) != 1 || rec.segments != 1 {
		t.Fatalf("got %d init messages and %d init segments, want 1 and 1", len(rec.inits), rec.segments)
	}
	info := rec.inits[0]
	if want := `video/mp4; codecs="avc1.4d401f,mp4a.40.2"`; info.MIME != want {
		t.Errorf("mime = %s, want %s", info.MIME, want)
	}
	if info.Video.Width != 1280 || info.Video.Height != 720 || info.Video.Format != formatH264 {
		t.Errorf("video = %+v, want H.264 1280x720", info.Video)
	}
	if info.Audio == nil || info.Audio.SampleRate != 48000 || info.Audio.Channels != 1 {
		t.Errorf("audio = %+v, want AAC 48 kHz mono", info.Audio)
	}
	p := probeRecording(t, rec)
	if p.videoCodec != "h264" || p.width != 1280 || p.height != 720 || p.audioCodec != "aac" {
		t.Errorf("ffprobe sees %+v", p)
	}
	if p.videoFrames != frames {
		t.Errorf("ffprobe counted %d video frames, want %d", p.videoFrames, frames)
	}
	if p.maxVideoStep != 40*time.Millisecond {
		t.Errorf("largest step between frames is %v, want 40ms at 25 fps", p.maxVideoStep)
	}
	if !strings.Contains(strings.Join(rec.statuses, ","), stateLive) {
		t.Errorf("statuses %v lack live", rec.statuses)
	}
	ts.expectDrained(t, base)
}
