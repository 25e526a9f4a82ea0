package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// benchH265Clip is the transcode benchmarks' source: 10 s of 1280x720 25
// fps H.265 (a moving pattern under noise, about 2 Mbit/s), a keyframe a
// second, no B-frames.
func benchH265Clip(b testing.TB) []byte {
	return makeClip(b, "bench-720p25-h265", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=10",
		"-vf", "noise=alls=12:allf=t", "-c:v", "libx265", "-preset", "ultrafast",
		"-x265-params", "keyint=25:min-keyint=25:bframes=0:bitrate=2000:log-level=error", "-pix_fmt", "yuv420p")
}

// BenchmarkTranscode measures one 720p25 H.265 → H.264 transcode inside
// decoder against the same ffmpeg command alone, and the latency it adds.
func BenchmarkTranscode(b *testing.B) {
	cam := startTestCamera(b, benchH265Clip(b))
	for b.Loop() {
		transcodeCostRun(b, cam.url(), b.ReportMetric)
		transcodeLatencyRun(b, cam.url(), b.ReportMetric)
	}
}

// processCPU is the user and system CPU a process has used, from /proc.
func processCPU(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// decoderFFmpeg finds the ffmpeg a decoder process runs.
func decoderFFmpeg(b testing.TB, p *process) int {
	b.Helper()
	var pid int
	waitFor(b, 10*time.Second, "decoder's ffmpeg", func() bool {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p.cmd.Process.Pid))
		for _, task := range tasks {
			data, _ := os.ReadFile(task)
			for _, child := range strings.Fields(string(data)) {
				if comm, _ := os.ReadFile("/proc/" + child + "/comm"); strings.TrimSpace(string(comm)) == "ffmpeg" {
					pid, _ = strconv.Atoi(child)
				}
			}
		}
		return pid != 0
	})
	return pid
}

// transcodeCostRun measures the CPU of decoder and its ffmpeg while one
// viewer plays the camera transcoded, per second of video, and divides it
// by the CPU of the same ffmpeg command alone on the same input, which it
// records from a passthrough viewer, fed in real time.
func transcodeCostRun(b testing.TB, camURL string, report reportFunc) {
	p := startDecoder(b, []string{"PORT=" + freePort(b)}, "-headless", "-transcode-encoder", encoderSoftware)
	defer p.cmd.Process.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A passthrough viewer records 10 s, the input for ffmpeg alone, and
	// leaves before the measure.
	pass := dial(b, p.liveURL(camURL))
	input, err := recordMedia(ctx, pass, nil, 250)
	if err != nil {
		b.Fatal(err)
	}
	pass.CloseNow()
	conv := dial(b, p.liveURL(camURL)+"&codecs=avc1")
	if _, err := recordMedia(ctx, conv, nil, 25); err != nil {
		b.Fatal(err)
	}
	keepReading(b, conv)
	ffmpeg := decoderFFmpeg(b, p)
	const window = 8 * time.Second
	before, beforeFF := metricsOf(b, p.url)["process_cpu_seconds_total"], processCPU(ffmpeg)
	time.Sleep(window)
	after, afterFF := metricsOf(b, p.url)["process_cpu_seconds_total"], processCPU(ffmpeg)
	decoderCPU := (after - before) / window.Seconds()
	ffmpegCPU := (afterFF - beforeFF).Seconds() / window.Seconds()

	// The same command alone, fed the same kind of input in real time.
	path := filepath.Join(b.TempDir(), "input.mp4")
	os.WriteFile(path, input.stream.Bytes(), 0o644)
	args := append([]string{"-re"}, ffmpegArgs(transcodeJob{video: true, fps: 25, encoder: encoderSoftware})...)
	cmd := exec.Command("ffmpeg", args...)
	in, _ := os.Open(path)
	defer in.Close()
	cmd.Stdin = in
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg alone: %v\n%s", err, out)
	}
	alone := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds() / time.Since(start).Seconds()
	report(decoderCPU*100, "%cpu_decoder")
	report(ffmpegCPU*100, "%cpu_ffmpeg")
	report(alone*100, "%cpu_ffmpeg_alone")
	report((decoderCPU+ffmpegCPU)/alone, "ratio")
}

// fragmentTime reads a fragment's track and decode time (tfdt).
func fragmentTime(data []byte) (track int, t uint64, ok bool) {
	track, _, err := fragmentTrack(data)
	i := bytes.Index(data, []byte("tfdt"))
	if err != nil || i < 0 || len(data) < i+16 {
		return 0, 0, false
	}
	if data[i+4] == 1 {
		return track, uint64(be32(data[i+8:]))<<32 | uint64(be32(data[i+12:])), true
	}
	return track, uint64(be32(data[i+8:])), true
}

// transcodeLatencyRun measures how much later a transcoded frame reaches a
// viewer than the same frame passed through: outputs start on their
// source's timeline, so the frames pair by decode time.
func transcodeLatencyRun(b testing.TB, camURL string, report reportFunc) {
	p := startDecoder(b, []string{"PORT=" + freePort(b)}, "-headless", "-transcode-encoder", encoderSoftware)
	defer p.cmd.Process.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	arrivals := func(c *websocket.Conn, out map[uint64]time.Time, n int) error {
		for len(out) < n {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return err
			}
			if track, t, ok := fragmentTime(data); typ == websocket.MessageBinary && ok && track == videoTrackID {
				out[t] = time.Now()
			}
		}
		return nil
	}
	pass, conv := dial(b, p.liveURL(camURL)), dial(b, p.liveURL(camURL)+"&codecs=avc1")
	passAt, convAt := map[uint64]time.Time{}, map[uint64]time.Time{}
	errs := make(chan error, 1)
	go func() { errs <- arrivals(pass, passAt, 250) }()
	if err := arrivals(conv, convAt, 200); err != nil {
		b.Fatal(err)
	}
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	var added []time.Duration
	for t, at := range convAt {
		if base, ok := passAt[t]; ok {
			added = append(added, at.Sub(base))
		}
	}
	if len(added) < 100 {
		b.Fatalf("only %d transcoded frames pair with passed-through ones", len(added))
	}
	slices.Sort(added)
	report(float64(added[len(added)/2].Microseconds())/1000, "ms_added_p50")
	report(float64(added[len(added)*99/100].Microseconds())/1000, "ms_added_p99")
}

// transcodeViewersRun measures decoder's own CPU with n viewers of one
// camera (the load in its own process), with params added to /live.
func transcodeViewersRun(b testing.TB, bin, camURL string, n int, params string, report reportFunc) {
	r := suiteLoadParams(b, bin, []string{"-transcode-encoder", encoderSoftware}, camURL, params,
		"-viewers", strconv.Itoa(n), "-ramp", "2s", "-duration", "6s")
	report(r.Server.CPUPercent, "%cpu_decoder")
	report(float64(r.Drops), "drops")
	report(r.FirstMediaMS.P50, "ms_first_p50")
}

// snapshotLatencyRun measures a snapshot's answer: cached, made with the
// source running, and made with the source to start.
func snapshotLatencyRun(b testing.TB, camURL string, report reportFunc) {
	p := startDecoder(b, []string{"PORT=" + freePort(b)}, "-headless")
	defer p.cmd.Process.Kill()
	ts := &testServer{base: p.url}
	timed := func(query string) float64 {
		start := time.Now()
		status, _, _, msg, err := fetchSnapshot(ts, query, nil, 30*time.Second)
		if err != nil || status != 200 {
			b.Fatalf("snapshot: %d %s %v", status, msg, err)
		}
		return float64(time.Since(start).Microseconds()) / 1000
	}
	src := "url=" + url.QueryEscape(camURL+"?stopped=1")
	report(timed(src), "ms_cold_stopped")
	report(timed(src), "ms_cached")
	report(timed(src+"&height=360"), "ms_cold_running")
}

// transcodeSuite runs the decoding scenarios once for the suite.
func transcodeSuite(t *testing.T, bin string, f figures) {
	cam := startTestCamera(t, benchH265Clip(t))
	transcodeCostRun(t, cam.url(), f.reporter("transcode"))
	transcodeLatencyRun(t, cam.url(), f.reporter("transcode"))
	for _, n := range []int{1, 10, 100} {
		transcodeViewersRun(t, bin, cam.url(), n, "&codecs=avc1", f.reporter(fmt.Sprintf("transcoded %d", n)))
		transcodeViewersRun(t, bin, cam.url(), n, "", f.reporter(fmt.Sprintf("passthrough %d", n)))
	}
	snapshotLatencyRun(t, cam.url(), f.reporter("snapshot"))
	res := testing.Benchmark(func(b *testing.B) { benchmarkG711FLAC(b) })
	// One stream is 50 packets of 20 ms a second.
	f.add("flac %cpu", float64(res.NsPerOp())*50/1e9*100)
}

// renderTranscode writes the decoding section of BENCHMARKS.md.
func renderTranscode(w *bytes.Buffer, f figures) {
	fmt.Fprintf(w, `
## Decoding: transcodes, audio, snapshots

The source is a camera of 10 s of 1280x720 25 fps H.265 at about 2 Mbit/s
(a moving pattern under noise, a keyframe a second), transcoded to H.264
with `+"`libx264 -preset ultrafast -tune zerolatency`"+` for viewers that ask
`+"`codecs=avc1`"+`.

| figure | value |
|---|---|
| one transcode: decoder's own CPU, its ffmpeg's CPU | %s %% + %s %% of a core |
| the same ffmpeg command alone, fed the same input in real time | %s %% of a core |
| **decoder with its transcode ÷ ffmpeg alone** (goal ≤ 1.1) | **%s** |
| latency a transcode adds over passthrough, p50 / p99 (goal p50 ≤ 150 ms) | %s / %s ms |
| G.711 → FLAC in decoder, one 8 kHz camera (goal under 0.1 %%) | %s %% of a core |
| snapshot: source stopped / cached / source running, new height | %s / %s / %s ms |

Viewers of one transcoded camera share one ffmpeg; decoder's own CPU
(ffmpeg apart) grows with them as for passthrough:

| viewers | decoder CPU, transcoded | decoder CPU, passthrough |
|---|---|---|
`, f.med("transcode %cpu_decoder", "%.1f"), f.med("transcode %cpu_ffmpeg", "%.1f"), f.med("transcode %cpu_ffmpeg_alone", "%.1f"),
		f.med("transcode ratio", "%.2f"), f.med("transcode ms_added_p50", "%.0f"), f.med("transcode ms_added_p99", "%.0f"),
		f.med("flac %cpu", "%.3f"), f.med("snapshot ms_cold_stopped", "%.0f"), f.med("snapshot ms_cached", "%.1f"), f.med("snapshot ms_cold_running", "%.0f"))
	for _, n := range []int{1, 10, 100} {
		fmt.Fprintf(w, "| %d | %s %% | %s %% |\n", n, f.med(fmt.Sprintf("transcoded %d %%cpu_decoder", n), "%.1f"), f.med(fmt.Sprintf("passthrough %d %%cpu_decoder", n), "%.1f"))
	}
}
