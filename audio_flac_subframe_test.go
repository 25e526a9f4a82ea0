package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestFLACSubframeSizes checks that each kind of block gets the coding it
// should: a constant three bytes, a sine well under verbatim, and noise
// that no predictor helps verbatim.
func TestFLACSubframeSizes(t *testing.T) {
	const n = 160
	header := 4 + 1 + 1 + 1 // fixed part, frame 0, 8-bit size, CRC-8
	verbatim := header + 1 + 2*n + 2
	rng := rand.New(rand.NewPCG(3, 4))
	sine, noise, flat := make([]int16, n), make([]int16, n), make([]int16, n)
	for i := range n {
		sine[i] = int16(10000 * math.Sin(2*math.Pi*440*float64(i)/8000))
		noise[i] = int16(rng.Uint32())
		flat[i] = -5
	}
	for _, tc := range []struct {
		name     string
		pcm      []int16
		min, max int
	}{
		{"constant", flat, header + 3 + 2, header + 3 + 2},
		{"sine", sine, header + 1 + 2, verbatim * 2 / 3},
		{"noise", noise, verbatim, verbatim},
	} {
		e, err := newFLACEncoder(8000, 1, n)
		if err != nil {
			t.Fatal(err)
		}
		frame, err := e.encodeFrame(nil, tc.pcm)
		if err != nil {
			t.Fatal(err)
		}
		if len(frame) < tc.min || len(frame) > tc.max {
			t.Errorf("%s: frame of %d bytes, want %d to %d (verbatim %d)", tc.name, len(frame), tc.min, tc.max, verbatim)
		}
	}
}

// TestFLACSizeAgainstFFmpeg requires the encoder to code the test signal
// about as small as ffmpeg does with the same tools (FIXED predictors,
// channels coded independently, the same block size): the predictors and
// Rice parameters are chosen well.
func TestFLACSizeAgainstFFmpeg(t *testing.T) {
	for _, tc := range []struct{ rate, channels, blockSize int }{{8000, 1, 160}, {48000, 2, 1024}} {
		t.Run(fmt.Sprintf("%dHz_%dch_%d", tc.rate, tc.channels, tc.blockSize), func(t *testing.T) {
			pcm := flacTestSignal(tc.rate, tc.channels, 2*tc.rate)
			e, err := newFLACEncoder(tc.rate, tc.channels, tc.blockSize)
			if err != nil {
				t.Fatal(err)
			}
			ours := flacFrameBytes(t, encodeFLACStream(t, e, pcm))
			theirs, _ := runFFmpeg(t, s16le(pcm), "-v", "error", "-f", "s16le", "-ar", fmt.Sprint(tc.rate), "-ac", fmt.Sprint(tc.channels), "-i", "-",
				"-c:a", "flac", "-lpc_type", "fixed", "-ch_mode", "indep", "-frame_size", fmt.Sprint(tc.blockSize), "-f", "flac", "-")
			ratio := float64(ours) / float64(flacFrameBytes(t, theirs))
			t.Logf("%d bytes of frames, %.3f times ffmpeg's, %.3f times verbatim", ours, ratio, float64(ours)/float64(2*len(pcm)))
			if ratio > 1.05 {
				t.Errorf("frames %.3f times the size of ffmpeg's", ratio)
			}
		})
	}
}

// flacFrameBytes is the size of a FLAC file's frames: all but the marker
// and metadata blocks.
func flacFrameBytes(t *testing.T, file []byte) int {
	t.Helper()
	at := 4
	for {
		if at+4 > len(file) {
			t.Fatalf("FLAC file of %d bytes ends in its metadata", len(file))
		}
		last := file[at]&0x80 != 0
		at += 4 + (int(file[at+1])<<16 | int(file[at+2])<<8 | int(file[at+3]))
		if last {
			return len(file) - at
		}
	}
}
