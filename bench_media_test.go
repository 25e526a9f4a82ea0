package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
	"github.com/coder/websocket"
)

// benchClip is the benchmarks' source: 10 s of 1280x720 25 fps H.264 at
// about 2 Mbit/s (a moving pattern under noise, so the encoder cannot
// compress it away), a keyframe every second.
func benchClip(b testing.TB) []byte {
	return makeClip(b, "bench-720p25-2mbps", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=10",
		"-vf", "noise=alls=12:allf=t", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
		"-bf", "0", "-g", "25", "-b:v", "2M", "-maxrate", "2M", "-bufsize", "1M", "-pix_fmt", "yuv420p")
}

// clipFrames reads a clip's video access units and their PTS (90 kHz).
func clipFrames(b testing.TB, clip []byte) (pts []int64, aus [][][]byte) {
	r := &mpegts.Reader{R: bufio.NewReader(bytes.NewReader(clip))}
	if err := r.Initialize(); err != nil {
		b.Fatal(err)
	}
	for _, t := range r.Tracks() {
		if _, ok := t.Codec.(*tscodecs.H264); ok {
			r.OnDataH264(t, func(p, _ int64, au [][]byte) error {
				pts = append(pts, p)
				aus = append(aus, au)
				return nil
			})
		}
	}
	for {
		if err := r.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				return pts, aus
			}
			b.Fatal(err)
		}
	}
}

// BenchmarkMuxFrame measures muxing one frame of the 2 Mbit/s clip into a
// fragment and publishing it: the per-source work per frame, paid once
// whatever the number of viewers.
func BenchmarkMuxFrame(b *testing.B) {
	pts, aus := clipFrames(b, benchClip(b))
	r := newRing(sourceBufferMessages, 32<<20, time.Second)
	s := &stream{ring: r}
	m := newMuxer(&Feed{ring: r, stream: s})
	m.reset(trackSetup{video: formatH264})
	span := pts[len(pts)-1] - pts[0] + 3600
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		n := i % len(aus)
		t := pts[n] + int64(i/len(aus))*span
		m.writeVideo(fromClock(t, videoTimescale), aus[n])
		i++
	}
	if entries, _ := r.size(); entries == 0 {
		b.Fatal("nothing published")
	}
}

// BenchmarkMediaSources runs the real binary pulling N distinct RTSP
// sources of the 2 Mbit/s clip (one camera, N URLs), one viewer each, and
// reports the server's CPU per source.
//
//	go test -run '^$' -bench MediaSources -benchtime 1x
func BenchmarkMediaSources(b *testing.B) {
	cam := startTestCamera(b, benchClip(b))
	for _, sources := range []int{16, 32, 64} {
		b.Run(fmt.Sprintf("sources=%d", sources), func(b *testing.B) {
			for b.Loop() {
				mediaSourcesRun(b, cam.url(), sources, b.ReportMetric)
			}
		})
	}
}

// mediaSourcesRun measures decoder (the binary) pulling sources distinct
// RTSP URLs of one camera, one viewer each.
func mediaSourcesRun(b testing.TB, camURL string, sources int, report reportFunc) {
	port := freePort(b)
	p := startDecoder(b, []string{"PORT=" + port}, "-headless", "-max-sources", "100")
	defer p.cmd.Process.Kill()
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var fragments atomic.Int64
	conns := make([]*websocket.Conn, 0, sources)
	for i := range sources {
		c, _, err := websocket.Dial(ctx, p.liveURL(fmt.Sprintf("%s?n=%d", camURL, i)), nil)
		if err != nil {
			b.Fatal(err)
		}
		c.SetReadLimit(8 << 20)
		conns = append(conns, c)
		wg.Go(func() {
			for {
				typ, _, err := c.Read(ctx)
				if err != nil {
					return
				}
				if typ == websocket.MessageBinary {
					fragments.Add(1)
				}
			}
		})
	}
	time.Sleep(3 * time.Second)
	held := metricsOf(b, p.url)
	fragmentsBefore := fragments.Load()
	const window = 6 * time.Second
	time.Sleep(window)
	after := metricsOf(b, p.url)
	got := fragments.Load() - fragmentsBefore
	cancel()
	for _, c := range conns {
		c.CloseNow()
	}
	wg.Wait()
	cpu := (after["process_cpu_seconds_total"] - held["process_cpu_seconds_total"]) / window.Seconds()
	report(held["decoder_producers"], "sources_running")
	report(cpu*100, "%cpu")
	report(cpu*100/float64(sources), "%cpu/source")
	report(float64(got)/window.Seconds()/float64(sources), "frames/s/source")
	report(held["process_resident_memory_bytes"]/1024/1024, "MiB_rss")
}

// BenchmarkLateViewer measures a viewer joining a running source: from
// dialing /live to its first frame (a keyframe from the buffered GOP), over
// 100 joins at random points of the GOP.
//
//	go test -run '^$' -bench LateViewer -benchtime 1x
func BenchmarkLateViewer(b *testing.B) {
	cam := startTestCamera(b, benchClip(b))
	for b.Loop() {
		lateViewerRun(b, cam.url(), b.ReportMetric)
	}
}

// lateViewerRun measures 100 late joins of a running source served by the
// decoder binary.
func lateViewerRun(b testing.TB, camURL string, report reportFunc) {
	port := freePort(b)
	p := startDecoder(b, []string{"PORT=" + port}, "-headless")
	defer p.cmd.Process.Kill()
	wsURL := p.liveURL(camURL)
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// One viewer keeps the source running.
	keeper, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		b.Fatal(err)
	}
	keeper.SetReadLimit(8 << 20)
	if _, err := recordMedia(ctx, keeper, nil, 30); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if _, _, err := keeper.Read(ctx); err != nil {
				return
			}
		}
	})
	defer wg.Wait()
	defer keeper.CloseNow()
	{
		var waits []time.Duration
		for i := range 100 {
			time.Sleep(time.Duration(37*i%100) * time.Millisecond)
			start := time.Now()
			c, _, err := websocket.Dial(ctx, wsURL, nil)
			if err != nil {
				b.Fatal(err)
			}
			c.SetReadLimit(8 << 20)
			for {
				typ, data, err := c.Read(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if typ == websocket.MessageBinary && bytes.Contains(data[:min(len(data), 16)], []byte("moof")) {
					break
				}
			}
			waits = append(waits, time.Since(start))
			c.CloseNow()
		}
		slices.Sort(waits)
		report(float64(waits[len(waits)/2].Microseconds())/1000, "ms_first_frame_p50")
		report(float64(waits[len(waits)*99/100].Microseconds())/1000, "ms_first_frame_p99")
	}
}

// BenchmarkBrowserWall measures decoder's CPU while Chromium plays a wall
// of 16 tiles of 4 cameras (the demo clip over RTSP), for 10 s, and the
// latency behind live the players report.
//
//	go test -run '^$' -bench BrowserWall -benchtime 1x
func BenchmarkBrowserWall(b *testing.B) {
	for b.Loop() {
		browserWallRun(b, b.ReportMetric)
	}
}

// browserWallRun plays a 16-tile wall in Chromium from the decoder binary
// and reports decoder's CPU and the players' latency.
func browserWallRun(b testing.TB, report reportFunc) {
	cams := map[string]string{}
	for i := range 4 {
		cams[fmt.Sprint(i)] = startTestCamera(b, demoClip).url()
	}
	port := freePort(b)
	p := startDecoder(b, []string{"PORT=" + port}, "-headless")
	defer p.cmd.Process.Kill()
	camerasJSON, _ := json.Marshal(cams)
	{
		before := metricsOf(b, p.url)
		cmd := exec.Command("node", "e2e/e2e.mjs", "wall16")
		cmd.Env = append(os.Environ(), "DECODER_URL="+p.url, "CAMERAS="+string(camerasJSON), "OUT_DIR="+b.TempDir())
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("e2e wall16: %v\n%s", err, out)
		}
		after := metricsOf(b, p.url)
		var res struct {
			MS         float64 `json:"ms"`
			LatencyP50 float64 `json:"latency_p50_s"`
			LatencyP95 float64 `json:"latency_p95_s"`
		}
		json.Unmarshal(bytes.TrimSpace(out), &res)
		report((after["process_cpu_seconds_total"]-before["process_cpu_seconds_total"])/(res.MS/1000)*100, "%cpu")
		report(res.LatencyP50, "s_latency_p50")
		report(res.LatencyP95, "s_latency_p95")
		report(after["decoder_dropped_messages_total"]-before["decoder_dropped_messages_total"], "drops")
	}
}
