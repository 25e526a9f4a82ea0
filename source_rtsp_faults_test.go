package main

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/coder/websocket"
)

// withoutNALUs returns au without the NAL units of the given types.
func withoutNALUs(au [][]byte, types ...h264.NALUType) [][]byte {
	return slices.DeleteFunc(slices.Clone(au), func(n []byte) bool {
		return len(n) > 0 && slices.Contains(types, h264.NALUType(n[0]&0x1f))
	})
}

// TestRTSPUnplayableStreams: a camera that keeps sending packets but
// nothing that can be published does not leave its viewers connecting
// forever: within the source timeout they hear why, and decoder calls it
// again. A stray corrupt SPS, on the other hand, costs one keyframe.
func TestRTSPUnplayableStreams(t *testing.T) {
	padding := make([]byte, h264.MaxAccessUnitSize)
	tests := []struct {
		name   string
		mutate func(i int, au [][]byte) [][]byte
		reason string // in the reconnecting status; "" when it plays
	}{
		{"no parameter sets anywhere", func(_ int, au [][]byte) [][]byte {
			return withoutNALUs(au, h264.NALUTypeSPS, h264.NALUTypePPS)
		}, "sent no parameter sets (SPS and PPS)"},
		{"keyframes over the size limit", func(_ int, au [][]byte) [][]byte {
			au = slices.Clone(au)
			for i, n := range au {
				if h264.NALUType(n[0]&0x1f) == h264.NALUTypeIDR {
					au[i] = append(slices.Clone(n), padding...)
				}
			}
			return au
		}, "the camera sends frames larger than 8 MiB"},
		{"corrupt SPS before the first keyframe", func(i int, au [][]byte) [][]byte {
			if i == 0 {
				return append([][]byte{{0x67, 0xff, 0xff, 0xff, 0xff, 0xff}}, withoutNALUs(au, h264.NALUTypeSPS)...)
			}
			return au
		}, ""},
	}
	ts := startTestServer(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cam := &testCamera{t: t, clips: [][]byte{demoClip}, mutateVideo: tt.mutate}
			cam.start()
			t.Cleanup(cam.Stop)
			base := snapshot()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := dial(t, ts.liveURL(cam.url()))
			if tt.reason == "" {
				rec, err := recordMedia(ctx, c, nil, 30)
				if err != nil {
					t.Fatal(err)
				}
				if p := probeRecording(t, rec); p.videoFrames != 30 {
					t.Errorf("ffprobe counted %d frames, want 30", p.videoFrames)
				}
			} else {
				start := time.Now()
				m := waitStatus(t, ctx, c, stateReconnecting, nil)
				t.Logf("after %v: %s", time.Since(start).Round(time.Millisecond), m.Reason)
				if !strings.Contains(m.Reason, tt.reason) {
					t.Errorf("reconnecting because %q, want %q", m.Reason, tt.reason)
				}
				if opened, _, _ := cam.sessions(); opened < 1 {
					t.Error("the camera was never called")
				}
			}
			c.Close(websocket.StatusNormalClosure, "")
			ts.expectDrained(t, base)
		})
	}
}

// TestRTSPRedirectLoop: a camera that redirects to itself is followed a
// few times, then given up with a reason and called again after the usual
// wait, not thousands of times a second.
func TestRTSPRedirectLoop(t *testing.T) {
	cam := &testCamera{t: t, clips: [][]byte{demoClip}}
	cam.start()
	t.Cleanup(cam.Stop)
	cam.redirect = cam.url()
	ts := startTestServer(t, nil)
	base := snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dial(t, ts.liveURL(cam.url()))
	m := waitStatus(t, ctx, c, stateReconnecting, nil)
	if !strings.Contains(m.Reason, "redirected more than 5 times") {
		t.Errorf("reconnecting because %q, want the redirect loop named", m.Reason)
	}
	keepReading(t, c)
	time.Sleep(2 * time.Second)
	conns, describes := cam.requests()
	t.Logf("%d connections and %d DESCRIBEs in about 2 s", conns, len(describes))
	// Each attempt costs (5+1)×2 DESCRIBEs at most, and attempts are at
	// least RetryMin apart: a bound that only an unbounded loop breaks.
	if limit := 12 * (1 + int(3*time.Second/ts.cfg.Live.Sources.RetryMin)); len(describes) > limit {
		t.Errorf("%d DESCRIBEs, want at most %d", len(describes), limit)
	}
	c.Close(websocket.StatusNormalClosure, "")
	ts.expectDrained(t, base)
}

// TestRTSPURLAsGiven: the camera gets its URL as the page wrote it,
// parameters separated by ; included, in their order.
func TestRTSPURLAsGiven(t *testing.T) {
	cam := startTestCamera(t, demoClip)
	ts := startTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dial(t, ts.liveURL(cam.url()+"?z=1;a=2&m=3"))
	if _, err := recordMedia(ctx, c, nil, 1); err != nil {
		t.Fatal(err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	if _, describes := cam.requests(); len(describes) == 0 || !strings.HasSuffix(describes[0], "/stream?z=1;a=2&m=3") {
		t.Errorf("the camera was asked for %q", describes)
	}
}

// TestFailureRemembered: a camera that refused the credentials is not
// called again for a while: the next viewer, and a snapshot, hear the same
// at once, and the camera sees one login attempt.
func TestFailureRemembered(t *testing.T) {
	cam := startTestCamera(t, demoClip)
	cam.user, cam.pass = "admin", "right-pw"
	ts := startTestServer(t, nil)
	wrong := "rtsp://admin:wrong-pw@" + cam.addr + "/stream"
	var reasons []string
	for range 3 {
		c := dial(t, ts.liveURL(wrong))
		ce, _ := readClose(t, c, 10*time.Second)
		if int(ce.Code) != closeSourceFailed {
			t.Fatalf("closed %v, want %d", ce, closeSourceFailed)
		}
		reasons = append(reasons, ce.Reason)
	}
	status, _, _, msg := getSnapshot(t, ts, "url="+url.QueryEscape(wrong), nil)
	if conns, _ := cam.requests(); conns != 1 {
		t.Errorf("the camera saw %d connections, want 1", conns)
	}
	if reasons[1] != reasons[0] || reasons[2] != reasons[0] || !strings.Contains(reasons[0], "refused the credentials") {
		t.Errorf("reasons %q, want the same refusal each time", reasons)
	}
	if status != 502 || !strings.Contains(msg, "refused the credentials") {
		t.Errorf("snapshot: %d %q, want 502 with the refusal", status, msg)
	}
}
