package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/g711"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// flacTestSignal is count samples a channel, interleaved, of what an
// encoder must get right: a sine with noise, silence, a full-scale square
// wave, a constant, full-scale noise (which no predictor helps) and a
// clean sine, with each channel its own pitch.
func flacTestSignal(rate, channels, count int) []int16 {
	rng := rand.New(rand.NewPCG(uint64(rate), uint64(channels)))
	pcm := make([]int16, count*channels)
	for i := range count {
		for c := range channels {
			tone := math.Sin(2 * math.Pi * float64(440*(c+1)) * float64(i) / float64(rate))
			var v float64
			switch part := 16 * i / count; {
			case part < 4:
				v = 12000*tone + 300*rng.NormFloat64()
			case part < 6: // silence
			case part < 8:
				v = 32767
				if (i*200/rate)%2 == 1 {
					v = -32768
				}
			case part < 9:
				v = -1234
			case part < 10:
				v = float64(int16(rng.Uint32()))
			default:
				v = 20000 * tone
			}
			pcm[i*channels+c] = int16(math.Round(v))
		}
	}
	return pcm
}

// encodeFLACStream is samples as a FLAC file: the "fLaC" marker, the
// encoder's STREAMINFO as the only metadata block, then frames of
// blockSize samples, the last one short where the count is not a multiple.
func encodeFLACStream(t *testing.T, e *flacEncoder, samples []int16) []byte {
	t.Helper()
	info := e.streamInfo()
	block, err := info.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	stream := append([]byte("fLaC"), 0x80, 0, 0, byte(len(block))) // last metadata block, STREAMINFO
	stream = append(stream, block...)
	step := e.blockSize * e.channels
	for at := 0; at < len(samples); at += step {
		if stream, err = e.encodeFrame(stream, samples[at:min(at+step, len(samples))]); err != nil {
			t.Fatal(err)
		}
	}
	return stream
}

// decodeFLACFile has ffmpeg play a FLAC file and decode it, and fails the
// test on anything ffmpeg complains of.
func decodeFLACFile(t *testing.T, stream []byte) []int16 {
	t.Helper()
	path := writeTemp(t, "in.flac", stream)
	if _, complaints := runFFmpeg(t, nil, "-v", "error", "-i", path, "-f", "null", "-"); len(complaints) > 0 {
		t.Fatalf("ffmpeg complained of the stream:\n%s", complaints)
	}
	samples, complaints := ffmpegDecodeFLAC(t, path)
	if len(complaints) > 0 {
		t.Fatalf("ffmpeg complained decoding the stream:\n%s", complaints)
	}
	return samples
}

// ffmpegDecodeFLAC is the samples ffmpeg decodes from a FLAC file,
// checking every frame's CRCs, and what it complained of.
func ffmpegDecodeFLAC(t *testing.T, path string) ([]int16, []byte) {
	t.Helper()
	out, complaints := runFFmpeg(t, nil, "-v", "error", "-err_detect", "crccheck", "-f", "flac", "-i", path, "-f", "s16le", "-")
	return fromS16LE(t, out), complaints
}

// writeTemp writes data to a file of that name in the test's directory.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFLACRoundTripFFmpeg encodes the test signal at rates and block sizes
// that take every kind of frame header code, and with a short last block,
// and requires ffmpeg to decode every sample back exactly.
func TestFLACRoundTripFFmpeg(t *testing.T) {
	for _, tc := range []struct {
		rate, channels, blockSize, count int
	}{
		{8000, 1, 160, 3*8000 + 37},     // G.711's 20 ms packets; sizes in 8 bits
		{48000, 2, 1024, 2*48000 + 333}, // standard codes
		{44100, 2, 4608, 3*4608 + 1},    // a last block of one sample
		{16000, 1, 192, 10 * 192},       // no short block
		{11025, 3, 300, 11025 + 7},      // rate in Hz, size in 16 bits
		{100000, 1, 1152, 4 * 1152},     // rate in kHz
		{352800, 2, 4096, 4*4096 + 100}, // rate in tens of Hz
		{100003, 1, 256, 5*256 + 255},   // rate only in STREAMINFO
		{8000, 1, 16, 40000},            // 2500 frames: numbers of 3 bytes
	} {
		t.Run(fmt.Sprintf("%dHz_%dch_%d", tc.rate, tc.channels, tc.blockSize), func(t *testing.T) {
			e, err := newFLACEncoder(tc.rate, tc.channels, tc.blockSize)
			if err != nil {
				t.Fatal(err)
			}
			pcm := flacTestSignal(tc.rate, tc.channels, tc.count)
			requireSamples(t, decodeFLACFile(t, encodeFLACStream(t, e, pcm)), pcm)
		})
	}
}

// TestFLACCorruptionDetected makes sure the round trip could fail: a frame
// whose CRC-16 is wrong must make ffmpeg complain, and one whose header's
// CRC-8 is wrong must not be decoded (ffmpeg skips it as junk).
func TestFLACCorruptionDetected(t *testing.T) {
	for _, corrupt := range []string{"CRC-16", "CRC-8"} {
		t.Run(corrupt, func(t *testing.T) {
			e, err := newFLACEncoder(8000, 1, 160)
			if err != nil {
				t.Fatal(err)
			}
			pcm := flacTestSignal(8000, 1, 160*11)
			stream := encodeFLACStream(t, e, pcm[:160*10])
			frame, err := e.encodeFrame(nil, pcm[160*10:]) // frame 10
			if err != nil {
				t.Fatal(err)
			}
			at := len(frame) - 1
			if corrupt == "CRC-8" {
				at = 6 // after sync, codes, a 1-byte number and an 8-bit size
			}
			frame[at] ^= 0x10
			got, complaints := ffmpegDecodeFLAC(t, writeTemp(t, "bad.flac", append(stream, frame...)))
			if len(complaints) == 0 && slices.Equal(got, pcm) {
				t.Fatalf("ffmpeg decoded a frame with a wrong %s as if it were right", corrupt)
			}
		})
	}
}

// TestFLACWrite feeds packets of sizes unrelated to the block size and
// requires the frames of the whole blocks, with their first sample where
// lead says.
func TestFLACWrite(t *testing.T) {
	const rate, channels, block = 8000, 2, 160
	pcm := flacTestSignal(rate, channels, 10*block+50)
	ref, err := newFLACEncoder(rate, channels, block)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for at := 0; at+block*channels <= len(pcm); at += block * channels {
		frame, err := ref.encodeFrame(nil, pcm[at:at+block*channels])
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, frame)
	}
	e, err := newFLACEncoder(rate, channels, block)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.write(make([]int16, 3)); err == nil {
		t.Error("3 samples of stereo were taken")
	}
	fed, got := 0, 0
	for i := 0; fed < len(pcm)/channels; i++ {
		n := min([]int{37, 160, 1, 400, 0, 99}[i%6], len(pcm)/channels-fed)
		frames, lead, err := e.write(pcm[fed*channels : (fed+n)*channels])
		if err != nil {
			t.Fatal(err)
		}
		if len(frames) > 0 && fed-lead != got*block {
			t.Fatalf("frame %d said to start at sample %d, want %d", got, fed-lead, got*block)
		}
		for _, f := range frames {
			if !slices.Equal(f, want[got]) {
				t.Fatalf("frame %d differs from the block encoded alone", got)
			}
			got++
		}
		fed += n
	}
	if got != len(want) {
		t.Fatalf("%d frames, want %d", got, len(want))
	}
}

// TestFLACFrameNumber codes frame numbers as UTF-8 codes characters, as
// far as UTF-8 goes, and as its original 5- and 6-byte forms beyond.
func TestFLACFrameNumber(t *testing.T) {
	for _, v := range []uint32{0, 1, 0x7f, 0x80, 0x7ff, 0x800, 0xffff, 0x10000, 0x10ffff} {
		if got, want := appendFLACNumber(nil, v), utf8.AppendRune(nil, rune(v)); !slices.Equal(got, want) {
			t.Errorf("%#x coded as % x, want % x", v, got, want)
		}
	}
	for v, want := range map[uint32][]byte{
		0x1fffff:           {0xf7, 0xbf, 0xbf, 0xbf},
		0x200000:           {0xf8, 0x88, 0x80, 0x80, 0x80},
		0x3ffffff:          {0xfb, 0xbf, 0xbf, 0xbf, 0xbf},
		0x4000000:          {0xfc, 0x84, 0x80, 0x80, 0x80, 0x80},
		flacMaxFrameNumber: {0xfd, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf},
	} {
		if got := appendFLACNumber(nil, v); !slices.Equal(got, want) {
			t.Errorf("%#x coded as % x, want % x", v, got, want)
		}
	}
}

// TestFLACRefuses refuses streams FLAC or this encoder cannot code, and
// blocks that do not fit the stream.
func TestFLACRefuses(t *testing.T) {
	for _, p := range [][3]int{{0, 1, 160}, {655351, 1, 160}, {8000, 0, 160}, {8000, 9, 160}, {8000, 1, 15}, {8000, 1, 65536}} {
		if _, err := newFLACEncoder(p[0], p[1], p[2]); err == nil {
			t.Errorf("encoder for %d Hz, %d channels, blocks of %d made", p[0], p[1], p[2])
		}
	}
	if _, err := newFLACEncoder(655350, 8, 65535); err != nil {
		t.Error(err)
	}
	e, err := newFLACEncoder(8000, 2, 160)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 3, 2*160 + 2} {
		if _, err := e.encodeFrame(nil, make([]int16, n)); err == nil {
			t.Errorf("a frame of %d stereo samples in blocks of 160 was encoded", n)
		}
	}
	if _, err := e.encodeFrame(nil, make([]int16, 2*100)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.encodeFrame(nil, make([]int16, 2*160)); err == nil {
		t.Error("a frame was encoded after a short block")
	}
}

// TestFLACInFMP4 carries the frames as the muxer will, in an fMP4 init
// segment whose dfLa box holds the encoder's STREAMINFO and a fragment of
// one frame a sample, and requires ffmpeg to decode every sample back.
func TestFLACInFMP4(t *testing.T) {
	const rate, channels, block = 8000, 1, 160
	pcm := flacTestSignal(rate, channels, 50*block)
	e, err := newFLACEncoder(rate, channels, block)
	if err != nil {
		t.Fatal(err)
	}
	frames, _, err := e.write(pcm)
	if err != nil {
		t.Fatal(err)
	}
	info := e.streamInfo()
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: rate, Codec: &codecs.FLAC{StreamInfo: &info}}}}
	part := fmp4.Part{SequenceNumber: 1, Tracks: []*fmp4.PartTrack{{ID: 1}}}
	for _, f := range frames {
		part.Tracks[0].Samples = append(part.Tracks[0].Samples, &fmp4.Sample{Duration: block, Payload: f})
	}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		t.Fatal(err)
	}
	if err := part.Marshal(&buf); err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "flac.mp4", buf.Bytes())
	out, complaints := runFFmpeg(t, nil, "-v", "error", "-err_detect", "crccheck", "-i", path, "-f", "s16le", "-")
	if len(complaints) > 0 {
		t.Fatalf("ffmpeg complained of the fMP4:\n%s", complaints)
	}
	requireSamples(t, fromS16LE(t, out), pcm)
}

// BenchmarkFLACEncode measures the per-packet cost of live audio: an
// 8 kHz G.711 camera's 20 ms packet decoded and encoded, and a 48 kHz
// stereo block of 1024 samples, each with the share of a core a stream
// costs in real time.
func BenchmarkFLACEncode(b *testing.B) {
	b.Run("alaw-8kHz-mono-160", benchmarkG711FLAC)
	b.Run("L16-48kHz-stereo-1024", func(b *testing.B) {
		var payload []byte
		for _, s := range flacTestSignal(48000, 2, 48*1024) {
			payload = append(payload, byte(uint16(s)>>8), byte(s))
		}
		benchmarkFLACPackets(b, pcmFormat{Encoding: pcmL16, SampleRate: 48000, Channels: 2}, payload, 1024, 1024*2*2)
	})
}

// benchmarkG711FLAC is one camera's G.711 in 20 ms packets made FLAC.
func benchmarkG711FLAC(b *testing.B) {
	var lpcm []byte
	for _, s := range flacTestSignal(8000, 1, 8000) {
		lpcm = append(lpcm, byte(uint16(s)>>8), byte(s))
	}
	codes, err := g711.Alaw(lpcm).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	benchmarkFLACPackets(b, pcmFormat{Encoding: pcmALaw, SampleRate: 8000, Channels: 1}, codes, 160, 160)
}

// benchmarkFLACPackets decodes and encodes payload in packets of one
// block, of packet bytes, over and over.
func benchmarkFLACPackets(b *testing.B, f pcmFormat, payload []byte, block, packet int) {
	b.Helper()
	e, err := newFLACEncoder(f.SampleRate, f.Channels, block)
	if err != nil {
		b.Fatal(err)
	}
	var pcm []int16
	b.ReportAllocs()
	i := 0
	for ; b.Loop(); i++ {
		at := i % (len(payload) / packet) * packet
		if pcm, err = f.decode(pcm[:0], payload[at:at+packet]); err != nil {
			b.Fatal(err)
		}
		if frames, _, err := e.write(pcm); err != nil || len(frames) != 1 {
			b.Fatalf("%d frames, %v", len(frames), err)
		}
	}
	perSecond := float64(f.SampleRate) / float64(block)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i)*perSecond/1e9*100, "%core/stream")
}
