package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkRingFanOut measures one publish read by N viewers' cursors: the
// work the engine does per message and viewer, without the sockets.
func BenchmarkRingFanOut(b *testing.B) {
	for _, viewers := range []int{100, 1000} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) {
			r := newRing(sourceBufferMessages, sourceBufferBytes, time.Second)
			cursors := make([]cursor, viewers)
			msg := Message{Data: make([]byte, 10_000), Binary: true, Start: true}
			b.ReportAllocs()
			for b.Loop() {
				r.publish(msg)
				for i := range cursors {
					if res := r.read(&cursors[i], time.Second); !res.ok {
						b.Fatal("nothing to read")
					}
				}
			}
		})
	}
}

// metricsOf reads a few series of a decoder process's /metrics.
func metricsOf(b *testing.B, base string) map[string]float64 {
	b.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	m := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			m[f[0]], _ = strconv.ParseFloat(f[1], 64)
		}
	}
	return m
}

// BenchmarkLiveViewers runs the real binary and N WebSocket viewers of
// demo-text:// at 10 messages/s for 5 s, and reports what the server paid
// per viewer (RSS, CPU) and the fan-out delay from producer to viewer. Run it
// alone, without -race: go test -run '^$' -bench LiveViewers -benchtime 1x
func BenchmarkLiveViewers(b *testing.B) {
	for _, viewers := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) {
			for b.Loop() {
				benchViewers(b, viewers)
			}
		})
	}
}

func benchViewers(b *testing.B, viewers int) {
	port := freePort(b)
	p := startDecoder(b, []string{"PORT=" + port}, "-headless", "-max-viewers", "20000", "-max-viewers-per-source", "20000")
	defer p.cmd.Process.Kill()
	source := url.QueryEscape("demo-text://?interval=100ms")
	wsURL := "ws" + strings.TrimPrefix(p.url, "http") + "/live?url=" + source
	time.Sleep(200 * time.Millisecond)
	before := metricsOf(b, p.url)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var delays []time.Duration
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, 0, viewers)
	for range viewers {
		dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
		c, _, err := websocket.Dial(dctx, wsURL, nil)
		dcancel()
		if err != nil {
			b.Fatalf("dial after %d viewers: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	held := metricsOf(b, p.url)
	measureFrom := time.Now().Add(time.Second)
	for _, c := range conns {
		wg.Go(func() {
			var local []time.Duration
			for {
				_, data, err := c.Read(ctx)
				now := time.Now()
				if err != nil {
					break
				}
				var m struct {
					Type string `json:"type"`
					TS   int64  `json:"ts"`
				}
				if json.Unmarshal(data, &m) == nil && m.Type == "data" && now.After(measureFrom) {
					local = append(local, now.Sub(time.Unix(0, m.TS)))
				}
			}
			mu.Lock()
			delays = append(delays, local...)
			mu.Unlock()
		})
	}
	time.Sleep(6 * time.Second)
	after := metricsOf(b, p.url)
	cancel()
	for _, c := range conns {
		c.CloseNow()
	}
	wg.Wait()

	slices.Sort(delays)
	pct := func(q float64) float64 {
		if len(delays) == 0 {
			return 0
		}
		return float64(delays[int(q*float64(len(delays)-1))].Microseconds()) / 1000
	}
	rssPerViewer := (held["process_resident_memory_bytes"] - before["process_resident_memory_bytes"]) / float64(viewers)
	cpu := (after["process_cpu_seconds_total"] - held["process_cpu_seconds_total"]) / 6
	b.ReportMetric(held["decoder_viewers"], "viewers_held")
	b.ReportMetric(rssPerViewer/1024, "KiB_rss/viewer")
	b.ReportMetric(cpu*100*1000/float64(viewers), "%cpu/1000viewers")
	b.ReportMetric(pct(0.5), "ms_delay_p50")
	b.ReportMetric(pct(0.99), "ms_delay_p99")
	b.ReportMetric(after["decoder_dropped_messages_total"], "drops")
}

// BenchmarkDeadPeerDetection measures, with the default heartbeat, how long
// a peer that stops answering (no reads, no pongs) stays connected.
func BenchmarkDeadPeerDetection(b *testing.B) {
	port := freePort(b)
	p := startDecoder(b, []string{"PORT=" + port}, "-headless")
	defer p.cmd.Process.Kill()
	u, _ := url.Parse(p.url)
	live, _ := url.Parse(p.url + "/live?url=" + url.QueryEscape("demo-text://?interval=1s"))
	for b.Loop() {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			b.Fatal(err)
		}
		writeHandshake(c, live)
		start := time.Now()
		// Read everything but never answer: the server must give up.
		io.Copy(io.Discard, c)
		b.ReportMetric(time.Since(start).Seconds(), "s_to_close")
		c.Close()
	}
}
