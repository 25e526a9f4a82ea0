package main

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The machine's own limit, to measure decoder against: a process that
// writes the same fragments of the same camera, already framed, to every
// connection in turn, one write each, and does nothing else (no buffer,
// no deadline, no ping, no slow viewer). It is this test binary run again
// with bareFanoutEnv set, so that it runs apart and can be pinned to a
// core like decoder.

// The bare fan-out's process is told the address to listen on and the
// clip to send.
const (
	bareFanoutEnv     = "DECODER_BARE_FANOUT"
	bareFanoutClipEnv = "DECODER_BARE_FANOUT_CLIP"
)

// TestBareFanoutProcess is the bare fan-out's process; it runs only when
// bareFanoutEnv is set, until it is killed.
func TestBareFanoutProcess(t *testing.T) {
	addr := os.Getenv(bareFanoutEnv)
	if addr == "" {
		t.Skip("the bare fan-out process of the benchmark suite")
	}
	clip, err := os.ReadFile(os.Getenv(bareFanoutClipEnv))
	if err != nil {
		t.Fatal(err)
	}
	init, frames, err := clipFragments(clip)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("listening")
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if bareHandshake(c) != nil {
					c.Close()
					return
				}
				c.(*net.TCPConn).SetWriteBuffer(64 << 10)
				c.Write(frameOf(opBinary, init))
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}()
		}
	}()
	start := time.Now()
	for i := 0; ; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / 25)))
		frame := frames[i%len(frames)]
		mu.Lock()
		live := conns[:0]
		for _, c := range conns {
			if _, err := c.Write(frame); err == nil {
				live = append(live, c)
			} else {
				c.Close()
			}
		}
		conns = live
		mu.Unlock()
	}
}

// frameOf is p as one WebSocket data frame.
func frameOf(opcode byte, p []byte) []byte {
	return append(appendFrameHeader(nil, opcode, len(p)), p...)
}

// bareHandshake answers a WebSocket handshake, and nothing else.
func bareHandshake(c net.Conn) error {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return err
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	_, err = fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	return err
}

// collectSink keeps what a muxer publishes.
type collectSink struct {
	init     *mediaInit
	messages [][]byte
}

func (s *collectSink) Publish(m Message)    { s.messages = append(s.messages, m.Data) }
func (s *collectSink) SetInit(i *mediaInit) { s.init = i }
func (s *collectSink) SetStatus(Status)     {}
func (s *collectSink) tapping() bool        { return false }
func (s *collectSink) tapVideo(videoUnit)   {}
func (s *collectSink) tapAudio(audioUnit)   {}

// clipFragments muxes a clip as decoder does, and returns its init segment
// and its fragments, each framed as a binary WebSocket message.
func clipFragments(clip []byte) ([]byte, [][]byte, error) {
	pts, aus := clipFrames(nil, clip)
	sink := &collectSink{}
	m := newMuxer(sink)
	m.reset(trackSetup{video: formatH264})
	for i, au := range aus {
		m.writeVideo(fromClock(pts[i], videoTimescale), au)
	}
	m.end()
	if sink.init == nil || len(sink.messages) == 0 {
		return nil, nil, fmt.Errorf("the clip muxed to nothing")
	}
	frames := make([][]byte, len(sink.messages))
	for i, msg := range sink.messages {
		frames[i] = frameOf(opBinary, msg)
	}
	return sink.init.segment, frames, nil
}

// pinned runs a command on one core, where taskset is there to pin it.
func pinned(core int, name string, args ...string) *exec.Cmd {
	if _, err := exec.LookPath("taskset"); err != nil {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", strconv.Itoa(core), name}, args...)...)
}

// fanoutRun measures, at n viewers of the 2 Mbit/s camera, decoder's CPU
// and the bare fan-out's, side by side: both pinned to core 0, each with
// its own n viewers on core 1, over the same window once all are
// connected. Running them at once rather than in turn means that whatever
// else the machine does in that window weighs on both alike, so their
// ratio holds where the absolute figures do not.
func fanoutRun(b testing.TB, bin, camURL string, n int, report reportFunc) {
	const settle, window = 8 * time.Second, 10 * time.Second
	loadArgs := []string{"-viewers", strconv.Itoa(n), "-ramp", "3s", "-duration", (settle + window).String()}

	dec := pinned(0, bin, "-headless", "-max-viewers", "20000", "-max-viewers-per-source", "20000")
	dec.Env = append(os.Environ(), "PORT="+freePort(b))
	// taskset runs the command in its own place: the pid is decoder's.
	p := startProcess(b, dec)
	defer p.cmd.Process.Kill()

	bare, addr := startBareFanout(b)
	defer bare.cmd.Process.Kill()

	loads := []*exec.Cmd{
		pinned(1, bin, append([]string{"load", "-json", "-url", p.liveURL(camURL)}, loadArgs...)...),
		pinned(1, bin, append([]string{"load", "-json", "-url", "ws://" + addr + "/"}, loadArgs...)...),
	}
	pids := []int{p.cmd.Process.Pid, bare.cmd.Process.Pid}
	cpu, reports := measureUnderLoad(b, loads, pids, settle, window)
	report(cpu[0]*100, "%cpu_decoder")
	report(float64(reports[0].Drops), "drops_decoder")
	report(cpu[1]*100, "%cpu_bare")
	report(cpu[0]/cpu[1], "ratio")
}

// startBareFanout starts the bare fan-out of the benchmark clip pinned to
// core 0, and returns it and its address.
func startBareFanout(b testing.TB) (*process, string) {
	addr := "127.0.0.1:" + freePort(b)
	bare := pinned(0, os.Args[0], "-test.run=^TestBareFanoutProcess$")
	clip := filepath.Join(b.TempDir(), "bench.ts")
	os.WriteFile(clip, benchClip(b), 0o644)
	bare.Env = append(os.Environ(), bareFanoutEnv+"="+addr, bareFanoutClipEnv+"="+clip)
	return startProcess(b, bare), addr
}

// measureUnderLoad runs the loads together, and measures each pid's CPU
// over window once settle has passed; it returns those and the loads'
// reports.
func measureUnderLoad(b testing.TB, loads []*exec.Cmd, pids []int, settle, window time.Duration) ([]float64, []*loadReport) {
	b.Helper()
	outs := make([]strings.Builder, len(loads))
	for i, load := range loads {
		load.Stdout = &outs[i]
		if err := load.Start(); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(settle)
	before := make([]time.Duration, len(pids))
	for i, pid := range pids {
		before[i] = processCPU(pid)
	}
	time.Sleep(window)
	cpu := make([]float64, len(pids))
	for i, pid := range pids {
		cpu[i] = (processCPU(pid) - before[i]).Seconds() / window.Seconds()
	}
	reports := make([]*loadReport, len(loads))
	for i, load := range loads {
		if err := load.Wait(); err != nil {
			b.Fatalf("decoder load: %v\n%s", err, outs[i].String())
		}
		reports[i] = &loadReport{}
		if err := json.Unmarshal([]byte(outs[i].String()), reports[i]); err != nil {
			b.Fatalf("decoder load's report %s: %v", outs[i].String(), err)
		}
	}
	return cpu, reports
}

// perCoreRun finds the most viewers of the 2 Mbit/s camera one core of
// decoder serves with every frame delivered: no drops, and no viewer
// waiting 250 ms or more between messages, the load on the other core.
// The bare fan-out is held to the same test at each count: where it too
// fails, the limit is the machine's (the load generator's core, the
// loopback), not decoder's.
func perCoreRun(b testing.TB, bin, camURL string, report reportFunc) {
	bare, addr := startBareFanout(b)
	defer bare.cmd.Process.Kill()

	best, bareBest := 0, 0
	decDone, bareDone := false, false
	for _, n := range []int{1000, 2000, 3000, 4000, 5000, 6000} {
		if !decDone {
			dec := pinned(0, bin, "-headless", "-max-viewers", "20000", "-max-viewers-per-source", "20000")
			dec.Env = append(os.Environ(), "PORT="+freePort(b))
			p := startProcess(b, dec)
			r := perCoreLoad(b, bin, p.liveURL(camURL), n)
			p.cmd.Process.Kill()
			decDone = r == nil || r.Server == nil || r.Server.DroppedMessages != 0 || !everyFrame(r, n)
			if r != nil && r.Server != nil {
				b.Logf("decoder, %d viewers: connected %d, drops %d/%.0f, longest silence %.0f ms, CPU %.0f %%", n, r.Connected, r.Drops, r.Server.DroppedMessages, r.MaxSilenceMS.Max, r.Server.CPUPercent)
				report(r.Server.CPUPercent, fmt.Sprintf("%%cpu_at_%d", n))
			}
			if !decDone {
				best = n
			}
		}
		if !bareDone {
			r := perCoreLoad(b, bin, "ws://"+addr+"/", n)
			bareDone = r == nil || !everyFrame(r, n)
			if r != nil {
				b.Logf("bare, %d viewers: connected %d, longest silence %.0f ms", n, r.Connected, r.MaxSilenceMS.Max)
			}
			if !bareDone {
				bareBest = n
			}
		}
		if decDone && bareDone {
			break
		}
	}
	report(float64(best), "viewers")
	report(float64(bareBest), "bare_viewers")
}

// perCoreLoad runs n viewers of target from core 1 for perCoreRun; nil if
// the load generator failed.
func perCoreLoad(b testing.TB, bin, target string, n int) *loadReport {
	load := pinned(1, bin, "load", "-json", "-url", target, "-viewers", strconv.Itoa(n), "-ramp", "4s", "-duration", "10s")
	var out strings.Builder
	load.Stdout = &out
	err := load.Run()
	var r loadReport
	if err == nil {
		err = json.Unmarshal([]byte(out.String()), &r)
	}
	if err != nil {
		b.Logf("%d viewers of %s: decoder load failed: %v", n, target, err)
		return nil
	}
	return &r
}

// everyFrame reports whether all n viewers connected and got every frame
// on time: none dropped, none waiting 250 ms or more between messages.
func everyFrame(r *loadReport, n int) bool {
	return r.Connected == n && r.Failed == 0 && r.Drops == 0 && r.MaxSilenceMS.Max < 250
}

// BenchmarkFanout compares decoder with the bare fan-out at 1000 viewers
// of the 2 Mbit/s camera.
func BenchmarkFanout(b *testing.B) {
	cam := startTestCamera(b, benchClip(b))
	bin := decoderBinary(b)
	if old := os.Getenv("DECODER_BIN"); old != "" {
		bin = old
	}
	for b.Loop() {
		fanoutRun(b, bin, cam.url(), 1000, b.ReportMetric)
	}
}

// BenchmarkViewersPerCore finds the most viewers one core serves.
func BenchmarkViewersPerCore(b *testing.B) {
	cam := startTestCamera(b, benchClip(b))
	bin := decoderBinary(b)
	for b.Loop() {
		perCoreRun(b, bin, cam.url(), b.ReportMetric)
	}
}

// fanoutSuite runs the fan-out scenarios once for the suite.
func fanoutSuite(t *testing.T, bin, camURL string, f figures) {
	fanoutRun(t, bin, camURL, 1000, f.reporter("vsbare"))
	perCoreRun(t, bin, camURL, f.reporter("percore"))
}

// renderFanout writes the section of BENCHMARKS.md that measures decoder
// against the machine's own limit.
func renderFanout(w *bytes.Buffer, f figures) {
	fmt.Fprintf(w, `
## Fan-out against the machine's limit

One 720p25 camera at 2 Mbit/s, decoder pinned to one core (taskset -c 0)
and the viewers (`+"`decoder load`"+`) on the other. The bare fan-out is the
least a server can do: a process that writes the same framed fragments to
every connection in turn, one write each, with no buffer, no deadline, no
ping and no care for slow viewers (`+"`TestBareFanoutProcess`"+`), run beside
decoder at the same time, pinned to the same core, with its own 1000
viewers, so that whatever else the machine does weighs on both alike. The
median of three runs: `+"`go test -run '^$' -bench BenchmarkFanout -benchtime 1x -count 3`"+`.

| at 1000 viewers | CPU (one core = 100 %%) | drops |
|---|---|---|
| bare fan-out | %s %% | |
| decoder | %s %% | %s |
| **decoder / bare** | **%s** | |

Viewers one core of decoder serves with every frame delivered (no drops,
no viewer waiting 250 ms or more for a message), trying 1000, 2000, …
6000 (`+"`-bench BenchmarkViewersPerCore`"+`): **%s**; the bare fan-out, held to
the same test at each count, %s. Where both stop at the same count, the
limit is the machine's (the load generator's one core, the loopback)
rather than decoder's.
`, f.med("vsbare %cpu_bare", "%.1f"), f.med("vsbare %cpu_decoder", "%.1f"), f.med("vsbare drops_decoder", "%.0f"),
		f.med("vsbare ratio", "%.2f"), f.med("percore viewers", "%.0f"), f.med("percore bare_viewers", "%.0f"))
}
