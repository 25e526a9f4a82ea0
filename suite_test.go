package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// suiteRuns is how many times each scenario runs; BENCHMARKS.md gives the
// median.
const suiteRuns = 3

// figures collects each named figure over the runs.
type figures map[string][]float64

func (f figures) add(name string, v float64) { f[name] = append(f[name], v) }

// reporter returns a reportFunc that files figures under prefix.
func (f figures) reporter(prefix string) reportFunc {
	return func(v float64, unit string) { f.add(prefix+" "+unit, v) }
}

// med is the median of a figure, formatted with the given verb.
func (f figures) med(name, verb string) string {
	v := slices.Clone(f[name])
	if len(v) == 0 {
		return "–"
	}
	slices.Sort(v)
	return fmt.Sprintf(verb, v[len(v)/2])
}

// runSuite turns TestBenchmarkSuite on; ./bench.sh sets it.
var runSuite = flag.Bool("suite", false, "run the benchmark suite and rewrite BENCHMARKS.md (./bench.sh)")

// TestBenchmarkSuite runs the standard scenarios against freshly started
// decoders, each suiteRuns times, and rewrites BENCHMARKS.md with the
// medians. It is a test rather than a benchmark so that it can run the
// hot-path benchmarks itself (testing.Benchmark cannot run inside one).
// Run it through ./bench.sh.
func TestBenchmarkSuite(t *testing.T) {
	if !*runSuite {
		t.Skip("the benchmark suite runs with -suite: ./bench.sh")
	}
	bin := decoderBinary(t)
	f := figures{}
	started := time.Now()
	cam := startTestCamera(t, benchClip(t))
	for run := range suiteRuns {
		t.Logf("run %d of %d", run+1, suiteRuns)
		for _, n := range []int{100, 1000, 5000, 10000} {
			r := suiteLoad(t, bin, nil, "demo-text://?interval=100ms", "-viewers", fmt.Sprint(n), "-ramp", fmt.Sprintf("%ds", max(1, n/1000)), "-duration", "6s")
			p := fmt.Sprintf("scale %d", n)
			f.add(p+" held", r.Server.ViewersHeld)
			f.add(p+" rss", (r.Server.RSSHeld-r.Server.RSSBefore)/r.Server.ViewersHeld/1024)
			f.add(p+" cpu", r.Server.CPUPercent*1000/float64(n))
			f.add(p+" p50", r.DelayMS.P50)
			f.add(p+" p99", r.DelayMS.P99)
			f.add(p+" drops", float64(r.Drops))
		}
		r := suiteLoad(t, bin, nil, "demo-text://?interval=1s", "-viewers", "0", "-silent", "10", "-duration", "15s")
		if r.Silent.StillOpen > 0 {
			t.Fatalf("%d silent viewers still open after 15 s", r.Silent.StillOpen)
		}
		f.add("silent closed", r.Silent.ClosedAfterMS.P50/1000)
		r = suiteLoad(t, bin, nil, "demo-text://?interval=10ms&size=20000", "-viewers", "0", "-frozen", "10", "-duration", "15s")
		if r.MisbehavingClosedAfterMS == 0 {
			t.Fatal("frozen viewers not closed within 15 s")
		}
		f.add("frozen closed", r.MisbehavingClosedAfterMS/1000)
		r = suiteLoad(t, bin, nil, "demo-text://?interval=10ms&size=20000", "-viewers", "20", "-slow", "5", "-duration", "20s")
		// A viewer too slow to take even its close frame in time is
		// dropped without one.
		if r.MisbehavingClosedAfterMS == 0 || r.Slow.StillOpen > 0 || r.Slow.Closes["4408"]+r.Slow.Closes["abrupt"] != 5 {
			t.Fatalf("slow viewers: closes %v, %d still open, all gone after %v ms; want five closed as too slow", r.Slow.Closes, r.Slow.StillOpen, r.MisbehavingClosedAfterMS)
		}
		f.add("slow closed 4408", float64(r.Slow.Closes["4408"]))
		f.add("slow healthy silence", r.MaxSilenceMS.Max)
		f.add("slow closed", r.MisbehavingClosedAfterMS/1000)
		f.add("slow healthy drops", float64(r.Drops))
		r = suiteLoad(t, bin, nil, "demo-text://?interval=1s", "-viewers", "0", "-churn", "50", "-churn-total", "100000", "-duration", "5m")
		f.add("churn cycles", float64(r.Churn.Cycles))
		f.add("churn rate", r.Churn.PerSecond)
		f.add("churn goroutines", r.Server.GoroutinesDelta)
		f.add("churn fds", r.Server.FDsDelta)
		f.add("churn rss", r.Server.RSSAfter/(1<<20))
		for _, n := range []int{100, 1000} {
			r := suiteLoad(t, bin, nil, cam.url(), "-viewers", fmt.Sprint(n), "-ramp", "2s", "-duration", "6s")
			p := fmt.Sprintf("rtsp %d", n)
			f.add(p+" cpu", r.Server.CPUPercent)
			f.add(p+" rss", (r.Server.RSSHeld-r.Server.RSSBefore)/r.Server.ViewersHeld/1024)
			f.add(p+" mbps", r.BytesPerSec*8/1e6/float64(n))
			f.add(p+" drops", float64(r.Drops))
			f.add(p+" first p50", r.FirstMediaMS.P50)
			f.add(p+" first p99", r.FirstMediaMS.P99)
		}
		for _, n := range []int{16, 64} {
			mediaSourcesRun(t, cam.url(), n, f.reporter(fmt.Sprintf("sources %d", n)))
		}
		lateViewerRun(t, cam.url(), f.reporter("late"))
		for _, n := range []int{100, 1000} {
			res := testing.Benchmark(func(b *testing.B) { benchRingFanOut(b, n) })
			f.add(fmt.Sprintf("fanout %d ns", n), float64(res.NsPerOp()))
			f.add(fmt.Sprintf("fanout %d allocs", n), float64(res.AllocsPerOp()))
		}
		res := testing.Benchmark(BenchmarkMuxFrame)
		f.add("mux ns", float64(res.NsPerOp()))
		f.add("mux allocs", float64(res.AllocsPerOp()))
		f.add("mux bytes", float64(res.AllocedBytesPerOp()))
		for _, r := range runBrowserScenarios(t, "demo", "restart") {
			if r["ok"] != true {
				t.Fatalf("browser scenario %v failed: %v", r["scenario"], r["error"])
			}
			for k, v := range r {
				if x, ok := v.(float64); ok {
					f.add(fmt.Sprintf("browser %s %s", r["scenario"], k), x)
				}
			}
		}
		browserWallRun(t, f.reporter("wall"))
		transcodeSuite(t, bin, f)
		fanoutSuite(t, bin, cam.url(), f)
		clusterRun(t, f.reporter("cluster"))
	}
	if err := os.WriteFile("BENCHMARKS.md", renderBenchmarks(f, time.Since(started)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// suiteLoad starts a fresh decoder (the binary, headless) and runs
// `decoder load -json` against it in its own process.
func suiteLoad(b testing.TB, bin string, decoderArgs []string, source string, loadArgs ...string) *loadReport {
	b.Helper()
	return suiteLoadParams(b, bin, decoderArgs, source, "", loadArgs...)
}

// suiteLoadParams is suiteLoad with params added to the /live URL.
func suiteLoadParams(b testing.TB, bin string, decoderArgs []string, source, params string, loadArgs ...string) *loadReport {
	b.Helper()
	port := freePort(b)
	p := startDecoder(b, []string{"PORT=" + port}, append([]string{"-headless", "-max-viewers", "20000", "-max-viewers-per-source", "20000"}, decoderArgs...)...)
	defer p.cmd.Process.Kill()
	wsURL := p.liveURL(source) + params
	cmd := exec.Command(bin, append([]string{"load", "-json", "-url", wsURL}, loadArgs...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("decoder load %v: %v\n%s", loadArgs, err, stderr.String())
	}
	var r loadReport
	if err := json.Unmarshal(out, &r); err != nil || r.Server == nil {
		b.Fatalf("decoder load output %s: %v", out, err)
	}
	return &r
}

// machine describes this machine for BENCHMARKS.md.
func machine() string {
	model, mem := "unknown CPU", ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		fmt.Sscanf(string(data), "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%d cores (%s)%s, %s/%s, %s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// renderBenchmarks writes BENCHMARKS.md from the suite's figures.
func renderBenchmarks(f figures, took time.Duration) []byte {
	var w bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	p(`# Benchmarks

Written by the benchmark suite; do not edit by hand. To measure again:

    ./bench.sh

Machine: %s. Measured on %s in %s.
Each figure is the median of %d runs. decoder runs as its own process (the
real binary, headless, default settings) started afresh for each scenario;
its CPU and memory come from its own `+"`/metrics`"+`. Viewers are `+"`decoder load`"+`
in another process on the same cores, so at high counts the delays include
the clients' own queueing. The shared machine makes single figures noisy:
compare orders of magnitude.

## Viewers of one source (demo-text://, 10 messages/s)

`+"`decoder load -viewers N`"+`: healthy viewers that read everything and answer
pings, held 6 s once all are connected. Delay is from the producer's
timestamp in each message to its receipt.

| viewers | held | server RSS per viewer | server CPU per 1000 viewers | delay p50 | delay p99 | drops |
|---|---|---|---|---|---|---|
`, machine(), time.Now().UTC().Format("2006-01-02"), took.Round(time.Minute), suiteRuns)
	for _, n := range []int{100, 1000, 5000, 10000} {
		k := fmt.Sprintf("scale %d", n)
		p("| %d | %s | %s KiB | %s %% of a core | %s ms | %s ms | %s |\n", n, f.med(k+" held", "%.0f"), f.med(k+" rss", "%.1f"),
			f.med(k+" cpu", "%.1f"), f.med(k+" p50", "%.1f"), f.med(k+" p99", "%.1f"), f.med(k+" drops", "%.0f"))
	}
	p(`
## Viewers that misbehave

| scenario | figure |
|---|---|
| dead peer: reads, never answers pings (`+"`-silent 10`"+`) | closed after %s s (ping 5 s + pong timeout 5 s) |
| frozen peer: stops reading, socket open (`+"`-frozen 10`"+`, 2 MB/s source) | all closed %s s after the last froze (write timeout 5 s once buffers fill) |
| slow peers at half the rate (`+"`-slow 5`"+`) beside 20 healthy ones, 2 MB/s | slow ones closed as too slow %s s after starting to lag (%s of 5 received the 4408 close frame; a viewer too slow to take even that in time is dropped without it); healthy viewers' longest silence %s ms, drops %s |
| churn: connect, read, vanish with RST (`+"`-churn 50 -churn-total 100000`"+`) | %s abrupt disconnects at %s/s; afterwards goroutines %s, fds %s, RSS %s MiB |

## Video: 720p25 H.264 at about 2 Mbit/s over RTSP

The source is a 10 s clip made by ffmpeg (1280x720, 25 fps, H.264 High,
keyframe every second, a test pattern under noise so that it really costs
2 Mbit/s), published in real time by gortsplib's RTSP server in the
benchmark process.

| viewers of one camera | decoder CPU | RSS per viewer | delivered per viewer | drops | first media p50 / p99 |
|---|---|---|---|---|---|
`, f.med("silent closed", "%.1f"), f.med("frozen closed", "%.1f"), f.med("slow closed", "%.1f"), f.med("slow closed 4408", "%.0f"),
		f.med("slow healthy silence", "%.0f"), f.med("slow healthy drops", "%.0f"),
		f.med("churn cycles", "%.0f"), f.med("churn rate", "%.0f"), f.med("churn goroutines", "%+.0f"), f.med("churn fds", "%+.0f"), f.med("churn rss", "%.1f"))
	for _, n := range []int{100, 1000} {
		k := fmt.Sprintf("rtsp %d", n)
		p("| %d | %s %% of a core | %s KiB | %s Mbit/s | %s | %s / %s ms |\n", n, f.med(k+" cpu", "%.1f"), f.med(k+" rss", "%.0f"),
			f.med(k+" mbps", "%.2f"), f.med(k+" drops", "%.0f"), f.med(k+" first p50", "%.1f"), f.med(k+" first p99", "%.1f"))
	}
	p(`
First media is from dialing to the first fragment while the viewers ramp
up over 2 s: all but the first join a running source and start at once from
its buffered keyframe.

| cameras at once (one viewer each) | decoder CPU | per camera | RSS | frames/s per camera |
|---|---|---|---|---|
`)
	for _, n := range []int{16, 64} {
		k := fmt.Sprintf("sources %d", n)
		p("| %d | %s %% of a core | %s %% | %s MiB | %s |\n", n, f.med(k+" %cpu", "%.1f"), f.med(k+" %cpu/source", "%.2f"),
			f.med(k+" MiB_rss", "%.0f"), f.med(k+" frames/s/source", "%.1f"))
	}
	p(`
Late viewer, from dialing /live to its first frame (a keyframe from the
buffered GOP), over 100 joins at scattered points of the GOP: **%s ms p50,
%s ms p99**. With `+"`start=next`"+` a viewer waits for the next keyframe instead:
half a GOP on average.

## In the browser (Debian's Chromium, headless, software decoding)

`+"`e2e/e2e.mjs`"+` drives the page with playwright-core against decoder with
default settings.

| figure | demo:// | RTSP camera (demo clip) |
|---|---|---|
| behind live (playhead to newest buffered frame), p50 / p95 | %s / %s s | %s / %s s |
| page load to first decoded frame, source not running yet | %s ms | |
| Play to first decoded frame, source running (polled every 100 ms) | %s ms | |
| camera back to playback moving again (default `+"`-retry-max 1s`"+`) | | %s ms |

16-tile wall (4 RTSP cameras of the demo clip, 4 tiles each, 10 s): decoder
uses **%s %% of a core** with %s drops. The players sat %s s (p50) and %s s
(p95) behind live: Chromium decoding sixteen 720p streams in software on the
same shared cores is the bound, not decoder.

## Hot paths (`+"`go test -bench`"+`)

| benchmark | time per op | allocations per op |
|---|---|---|
| fan-out of one 10 kB message to 100 viewers' cursors (`+"`BenchmarkRingFanOut`"+`) | %s µs | %s |
| the same to 1000 cursors | %s µs | %s |
| muxing one frame of the 2 Mbit/s clip into a fragment (`+"`BenchmarkMuxFrame`"+`) | %s µs | %s (%s KB) |

A message costs the same to publish whatever the number of viewers; each
viewer then costs a cursor step. Muxing is paid once per frame per source.
`, f.med("late ms_first_frame_p50", "%.1f"), f.med("late ms_first_frame_p99", "%.1f"),
		f.med("browser demo latency_p50_s", "%.2f"), f.med("browser demo latency_p95_s", "%.2f"),
		f.med("browser restart latency_p50_s", "%.2f"), f.med("browser restart latency_p95_s", "%.2f"),
		f.med("browser demo first_frame_ms", "%.0f"), f.med("browser demo play_to_first_frame_ms", "%.0f"),
		f.med("browser restart recovery_ms", "%.0f"),
		f.med("wall %cpu", "%.1f"), f.med("wall drops", "%.0f"), f.med("wall s_latency_p50", "%.1f"), f.med("wall s_latency_p95", "%.1f"),
		scaled(f, "fanout 100 ns", 1000), f.med("fanout 100 allocs", "%.0f"), scaled(f, "fanout 1000 ns", 1000), f.med("fanout 1000 allocs", "%.0f"),
		scaled(f, "mux ns", 1000), f.med("mux allocs", "%.0f"), scaled(f, "mux bytes", 1000))
	renderFanout(&w, f)
	renderCluster(&w, f)
	renderTranscode(&w, f)
	return w.Bytes()
}

// scaled is the median of a figure divided by div (ns to µs, bytes to KB).
func scaled(f figures, name string, div float64) string {
	g := figures{}
	for _, v := range f[name] {
		g.add("x", v/div)
	}
	return g.med("x", "%.1f")
}
