package main

import (
	"bytes"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

// TestAppendFragment: the fragments decoder writes are the ones
// mediacommon writes, byte for byte, for every kind of sample list.
func TestAppendFragment(t *testing.T) {
	payload := func(n int) []byte { return bytes.Repeat([]byte{0xab}, n) }
	cases := []struct {
		name    string
		track   int
		base    uint64
		samples []*fmp4.Sample
	}{
		{"keyframe", 1, 0, []*fmp4.Sample{{Duration: 3600, Payload: payload(5000)}}},
		{"frame", 1, 1 << 40, []*fmp4.Sample{{Duration: 3600, IsNonSyncSample: true, Payload: payload(700)}}},
		{"B-frame timing", 1, 90000, []*fmp4.Sample{{Duration: 3600, PTSOffset: -7200, IsNonSyncSample: true, Payload: payload(300)}}},
		{"audio", 2, 44100, []*fmp4.Sample{{Duration: 1024, Payload: payload(300)}, {Duration: 1024, Payload: payload(310)}, {Duration: 960, Payload: payload(1)}}},
		{"empty payload", 2, 7, []*fmp4.Sample{{Duration: 160}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want seekablebuffer.Buffer
			part := fmp4.Part{SequenceNumber: 42, Tracks: []*fmp4.PartTrack{{ID: tc.track, BaseTime: tc.base, Samples: tc.samples}}}
			if err := part.Marshal(&want); err != nil {
				t.Fatal(err)
			}
			got := appendFragment(nil, 42, tc.track, tc.base, tc.samples)
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("fragment differs from mediacommon's:\n got % x\nwant % x", got[:min(len(got), 120)], want.Bytes()[:min(want.Len(), 120)])
			}
			if size := fragmentSize(tc.samples); size < len(got) {
				t.Errorf("fragmentSize %d, fragment %d bytes", size, len(got))
			}
		})
	}
}
