package main

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestNamedRelayAudio: a named stream relays its source's audio past the
// end of the demo's 8 s clip, where the source plays it again with its
// tracks set up anew though unchanged. Browsers need it: an init that
// promises audio, with fragments of video alone, stalls their players.
func TestNamedRelayAudio(t *testing.T) {
	ts, _ := startNamedServer(t, []namedConfig{{Name: "demo", URL: "demo://"}}, nil)
	c := dial(t, ts.ws+"/live?src=demo")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	const rate = 48000 // the demo's audio
	var video, audio uint64
	for video < 12*videoTimescale {
		typ, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("after %.1f s of video and %.1f s of audio: %v", float64(video)/videoTimescale, float64(audio)/rate, err)
		}
		if typ != websocket.MessageBinary {
			continue
		}
		switch track, at, ok := fragmentTime(data); {
		case ok && track == videoTrackID:
			video = at
		case ok && track == audioTrackID:
			audio = at
		}
	}
	if audio < 11*rate {
		t.Errorf("12 s of video came with audio up to %.1f s, want it past 11 s", float64(audio)/rate)
	}
}
