package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// runFFmpeg runs ffmpeg with args and stdin, for at most 30 s, and
// returns what it wrote to stdout and stderr; a failed run fails the test.
func runFFmpeg(t *testing.T, stdin []byte, args ...string) (stdout, stderr []byte) {
	t.Helper()
	requireFFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, errOut.Bytes())
	}
	return out.Bytes(), errOut.Bytes()
}

// s16le is samples as little-endian bytes, ffmpeg's s16le.
func s16le(samples []int16) []byte {
	b := make([]byte, 0, 2*len(samples))
	for _, s := range samples {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

// fromS16LE is the samples of ffmpeg's s16le output.
func fromS16LE(t *testing.T, b []byte) []int16 {
	t.Helper()
	if len(b)%2 != 0 {
		t.Fatalf("ffmpeg wrote %d bytes, not whole 16-bit samples", len(b))
	}
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s
}

// requireSamples fails the test at the first sample where got and want
// differ, or where one is longer.
func requireSamples(t *testing.T, got, want []int16) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("sample %d is %d, want %d (of %d samples)", i, got[i], want[i], len(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d samples, want %d", len(got), len(want))
	}
}

// speechLikePCM is two seconds of 8 kHz audio that crosses every G.711
// segment: a sine sweeping up in loudness, noise, and both extremes.
func speechLikePCM() []int16 {
	rng := rand.New(rand.NewPCG(1, 2))
	pcm := make([]int16, 16000)
	for i := range pcm {
		amp := 32767 * float64(i) / float64(len(pcm))
		v := amp*math.Sin(2*math.Pi*300*float64(i)/8000) + rng.NormFloat64()*50
		pcm[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return append(pcm, 32767, -32768, 0, -1, 1)
}

// TestG711AgainstFFmpeg decodes A-law and µ-law that ffmpeg encoded, and
// every one of the 256 codes, and requires ffmpeg's decoding exactly.
func TestG711AgainstFFmpeg(t *testing.T) {
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	for _, tc := range []struct {
		ffmpegFormat string
		enc          pcmEncoding
	}{{"alaw", pcmALaw}, {"mulaw", pcmMuLaw}} {
		t.Run(tc.ffmpegFormat, func(t *testing.T) {
			pcm := speechLikePCM()
			codes, _ := runFFmpeg(t, s16le(pcm), "-v", "error", "-f", "s16le", "-ar", "8000", "-ac", "1", "-i", "-", "-f", tc.ffmpegFormat, "-")
			if len(codes) != len(pcm) {
				t.Fatalf("ffmpeg coded %d samples into %d bytes", len(pcm), len(codes))
			}
			f := pcmFormat{Encoding: tc.enc, SampleRate: 8000, Channels: 1}
			for _, in := range [][]byte{codes, every} {
				out, _ := runFFmpeg(t, in, "-v", "error", "-f", tc.ffmpegFormat, "-ar", "8000", "-ac", "1", "-i", "-", "-f", "s16le", "-")
				got, err := f.decode(nil, in)
				if err != nil {
					t.Fatal(err)
				}
				requireSamples(t, got, fromS16LE(t, out))
			}
		})
	}
}

// TestL16 decodes big-endian samples and refuses payloads that are not
// whole samples of every channel.
func TestL16(t *testing.T) {
	for _, tc := range []struct {
		name     string
		channels int
		payload  []byte
		want     []int16
		fails    bool
	}{
		{name: "empty", channels: 1, payload: nil, want: nil},
		{name: "mono", channels: 1, payload: []byte{0x00, 0x01, 0xff, 0xff, 0x7f, 0xff, 0x80, 0x00, 0x12, 0x34}, want: []int16{1, -1, 32767, -32768, 0x1234}},
		{name: "stereo", channels: 2, payload: []byte{0x01, 0x00, 0xfe, 0x00, 0x00, 0x02, 0xff, 0xfe}, want: []int16{256, -512, 2, -2}},
		{name: "odd byte", channels: 1, payload: []byte{0x00, 0x01, 0x02}, fails: true},
		{name: "half a stereo sample", channels: 2, payload: []byte{0x00, 0x01, 0x00, 0x02, 0x00, 0x03}, fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []int16{7, 8} // what the buffer held before stays
			got, err := pcmFormat{Encoding: pcmL16, SampleRate: 48000, Channels: tc.channels}.decode(prefix, tc.payload)
			if tc.fails {
				if err == nil {
					t.Fatalf("decoded %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			requireSamples(t, got, append([]int16{7, 8}, tc.want...))
		})
	}
}

// TestPCMFormatOf maps RTSP tracks to the formats converted, and names
// them as viewers are told.
func TestPCMFormatOf(t *testing.T) {
	for _, tc := range []struct {
		track format.Format
		want  pcmFormat
		name  string
	}{
		{&format.G711{PayloadTyp: 8, SampleRate: 8000, ChannelCount: 1}, pcmFormat{pcmALaw, 8000, 1}, "G.711 A-law"},
		{&format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}, pcmFormat{pcmMuLaw, 8000, 1}, "G.711 µ-law"},
		{&format.G711{PayloadTyp: 96, MULaw: true, SampleRate: 16000, ChannelCount: 2}, pcmFormat{pcmMuLaw, 16000, 2}, "G.711 µ-law"},
		{&format.LPCM{PayloadTyp: 10, BitDepth: 16, SampleRate: 44100, ChannelCount: 2}, pcmFormat{pcmL16, 44100, 2}, "L16"},
		{&format.LPCM{PayloadTyp: 97, BitDepth: 24, SampleRate: 48000, ChannelCount: 2}, pcmFormat{}, ""},
		{&format.MPEG4Audio{PayloadTyp: 97}, pcmFormat{}, ""},
	} {
		got, ok := pcmFormatOf(tc.track)
		if ok != (tc.name != "") || got != tc.want {
			t.Errorf("pcmFormatOf(%#v) = %+v, %v; want %+v", tc.track, got, ok, tc.want)
			continue
		}
		if ok && got.name() != tc.name {
			t.Errorf("%+v is named %q, want %q", got, got.name(), tc.name)
		}
	}
}

// TestPCMDecodeRefuses refuses what cannot be split into channels, and
// G.711 keeps the samples already buffered.
func TestPCMDecodeRefuses(t *testing.T) {
	stereo := pcmFormat{Encoding: pcmALaw, SampleRate: 8000, Channels: 2}
	if got, err := stereo.decode(nil, []byte{1, 2, 3}); err == nil {
		t.Errorf("3 bytes of stereo A-law decoded to %v", got)
	}
	if got, err := (pcmFormat{Encoding: pcmMuLaw, SampleRate: 8000}).decode(nil, []byte{1}); err == nil {
		t.Errorf("µ-law of no channels decoded to %v", got)
	}
	got, err := stereo.decode([]int16{5}, []byte{0xd5, 0x55})
	if err != nil {
		t.Fatal(err)
	}
	requireSamples(t, got, []int16{5, 8, -8}) // the smallest A-law steps, G.711 Table 1a
}
