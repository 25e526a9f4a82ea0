package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// loadConfig is what `decoder load` is asked to do.
type loadConfig struct {
	URL         string
	Viewers     int
	Ramp        time.Duration
	Duration    time.Duration
	Slow        int
	SlowRate    float64
	Frozen      int
	Silent      int
	Churn       int
	ChurnTotal  int
	JSON        bool
	AllowRemote bool
}

// Bounds of `decoder load`: it is a measuring tool, not a weapon.
const (
	loadMaxViewers  = 100_000
	loadMaxDuration = time.Hour
	loadDialTimeout = 10 * time.Second
)

func parseLoadConfig(args []string, output io.Writer) (loadConfig, error) {
	var c loadConfig
	fs := flag.NewFlagSet("decoder load", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.URL, "url", "ws://127.0.0.1:3000/live?url=demo-text://", "the /live URL to load")
	fs.IntVar(&c.Viewers, "viewers", 100, "healthy viewers, which read everything and answer pings")
	fs.DurationVar(&c.Ramp, "ramp", 2*time.Second, "spread the viewers' connections over this long")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to hold them once all are connected")
	fs.IntVar(&c.Slow, "slow", 0, "extra viewers that read at -slow-rate of the stream's rate")
	fs.Float64Var(&c.SlowRate, "slow-rate", 0.5, "fraction of the stream's rate slow viewers read at")
	fs.IntVar(&c.Frozen, "frozen", 0, "extra viewers that stop reading after their first message (sockets stay open)")
	fs.IntVar(&c.Silent, "silent", 0, "extra viewers that read but never answer pings")
	fs.IntVar(&c.Churn, "churn", 0, "connections kept cycling: connect, read a message, vanish without a close frame")
	fs.IntVar(&c.ChurnTotal, "churn-total", 0, "stop churning after this many cycles in all (0: for the duration)")
	fs.BoolVar(&c.JSON, "json", false, "print the summary as JSON")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a target that is not on this machine")
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage:\n  decoder load [flags]\n\nOpens WebSocket viewers against a decoder's /live, as browsers would, and reports\nwhat they received and what the server paid (from its /metrics).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q; see decoder load -h", fs.Arg(0))
	}
	total := c.Viewers + c.Slow + c.Frozen + c.Silent + c.Churn
	switch {
	case c.Viewers < 0 || c.Slow < 0 || c.Frozen < 0 || c.Silent < 0 || c.Churn < 0 || c.ChurnTotal < 0:
		return c, errors.New("counts must not be negative")
	case total == 0:
		return c, errors.New("nothing to do: give -viewers, -slow, -frozen, -silent or -churn")
	case total > loadMaxViewers:
		return c, fmt.Errorf("at most %d connections at once, asked for %d", loadMaxViewers, total)
	case c.Duration <= 0 || c.Duration > loadMaxDuration || c.Ramp < 0 || c.Ramp > loadMaxDuration:
		return c, fmt.Errorf("-duration must be from 1ns to %v and -ramp from 0 to %v", loadMaxDuration, loadMaxDuration)
	case c.SlowRate <= 0 || c.SlowRate >= 1:
		return c, errors.New("-slow-rate must be between 0 and 1")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return c, fmt.Errorf("-url must be a ws:// or wss:// URL such as ws://127.0.0.1:3000/live?url=demo://")
	}
	if !c.AllowRemote && !isLoopbackHost(u.Hostname()) {
		return c, fmt.Errorf("%s is not this machine; load other machines only with -allow-remote", u.Hostname())
	}
	return c, nil
}

// runLoad is `decoder load`.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseLoadConfig(args, stderr)
	if err != nil {
		return err
	}
	report, err := loadTarget(ctx, cfg)
	if err != nil {
		return err
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	report.print(stdout)
	return nil
}

// loadViewer is one viewer's figures, written by its goroutine only.
type loadViewer struct {
	connected  bool
	err        error
	firstMedia time.Duration
	delays     []time.Duration
	maxSilence time.Duration
	messages   int64
	bytes      int64
	drops      uint64
	closeCode  string
	closedAt   time.Time // when the server closed it
	misbehave  time.Time // when it began misbehaving
}

// loadTarget runs the scenario and gathers the report.
func loadTarget(ctx context.Context, cfg loadConfig) (*loadReport, error) {
	u, _ := url.Parse(cfg.URL)
	metricsURL := (&url.URL{Scheme: strings.Replace(u.Scheme, "ws", "http", 1), Host: u.Host, Path: "/metrics"}).String()
	before, metricsErr := readMetrics(ctx, metricsURL)

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kinds := []struct {
		n    int
		kind string
	}{{cfg.Viewers, "healthy"}, {cfg.Slow, "slow"}, {cfg.Frozen, "frozen"}, {cfg.Silent, "silent"}}
	total := cfg.Viewers + cfg.Slow + cfg.Frozen + cfg.Silent
	viewers := make([]*loadViewer, 0, total)
	viewerKind := make([]string, 0, total)
	var received, receivedBytes atomic.Int64
	var wg sync.WaitGroup
	// dialing counts the viewers still connecting: the target is measured
	// once every viewer has connected or failed.
	var dialing sync.WaitGroup
	// Measuring starts when every viewer has connected.
	var measuring atomic.Bool
	start := time.Now()
	i := 0
	for _, k := range kinds {
		for range k.n {
			v := &loadViewer{}
			viewers = append(viewers, v)
			viewerKind = append(viewerKind, k.kind)
			if cfg.Ramp > 0 && total > 1 {
				due := start.Add(cfg.Ramp * time.Duration(i) / time.Duration(total-1))
				select {
				case <-ctx.Done():
				case <-time.After(time.Until(due)):
				}
			}
			i++
			kind := k.kind
			dialing.Add(1)
			wg.Go(func() {
				switch kind {
				case "silent":
					runSilentViewer(ctx, cfg.URL, v, dialing.Done)
				default:
					runLoadViewer(ctx, cfg, kind, v, dialing.Done, &measuring, &received, &receivedBytes)
				}
			})
		}
	}
	var churn churnReport
	var churnWG sync.WaitGroup
	var churnCycles, churnFailed atomic.Int64
	churnCtx, stopChurn := context.WithCancel(ctx)
	defer stopChurn()
	for range cfg.Churn {
		churnWG.Go(func() {
			for churnCtx.Err() == nil {
				if cfg.ChurnTotal > 0 && churnCycles.Load() >= int64(cfg.ChurnTotal) {
					stopChurn()
					return
				}
				if err := churnOnce(churnCtx, cfg.URL); err != nil {
					if churnCtx.Err() == nil {
						churnFailed.Add(1)
					}
				} else {
					churnCycles.Add(1)
				}
			}
		})
	}

	dialing.Wait()
	held, heldErr := readMetrics(ctx, metricsURL)
	measuring.Store(true)
	measureStart := time.Now()
	churn0 := churnCycles.Load()
	// The server's viewer count shows when it has closed every viewer that
	// misbehaves (frozen ones included, whose close a client cannot see).
	// Churning connections would blur it.
	misbehaving := cfg.Slow + cfg.Frozen + cfg.Silent
	var goneAt atomic.Int64
	var pollWG sync.WaitGroup
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	// The server may count a viewer a moment after its handshake: the
	// healthy viewers connected are what must remain.
	healthy := 0
	for i, v := range viewers {
		if v.connected && viewerKind[i] == "healthy" {
			healthy++
		}
	}
	if misbehaving > 0 && cfg.Churn == 0 && heldErr == nil {
		pollWG.Go(func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-pollCtx.Done():
					return
				case <-tick.C:
				}
				m, err := readMetrics(pollCtx, metricsURL)
				if err == nil && m["decoder_viewers"] <= float64(healthy) {
					goneAt.Store(time.Now().UnixNano())
					return
				}
			}
		})
	}
	if cfg.ChurnTotal > 0 && total == 0 {
		// Churn alone with a total: run until it is reached, bounded by
		// the duration.
		select {
		case <-churnCtx.Done():
		case <-time.After(cfg.Duration):
		}
	} else {
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Duration):
		}
	}
	measuring.Store(false)
	elapsed := time.Since(measureStart)
	msgs, byteCount := received.Load(), receivedBytes.Load()
	churned := churnCycles.Load() - churn0
	during, duringErr := readMetrics(ctx, metricsURL)
	stopPoll()
	pollWG.Wait()
	stopChurn()
	churnWG.Wait()
	cancel()
	wg.Wait()
	churn.Cycles, churn.Failed = churnCycles.Load(), churnFailed.Load()
	churn.PerSecond = float64(churned) / elapsed.Seconds()

	r := &loadReport{
		Target: cfg.URL, Viewers: cfg.Viewers, Seconds: elapsed.Seconds(),
		MessagesPerSec: float64(msgs) / elapsed.Seconds(), BytesPerSec: float64(byteCount) / elapsed.Seconds(),
		Closes: map[string]int{},
	}
	var firsts, delays, silences []time.Duration
	groups := map[string]*groupReport{}
	var closedAfter = map[string][]time.Duration{}
	for i, v := range viewers {
		kind := viewerKind[i]
		if !v.connected {
			r.Failed++
			if r.FailureSample == "" && v.err != nil {
				r.FailureSample = v.err.Error()
			}
			continue
		}
		r.Connected++
		if kind == "healthy" {
			if v.firstMedia > 0 {
				firsts = append(firsts, v.firstMedia)
			}
			delays = append(delays, v.delays...)
			silences = append(silences, v.maxSilence)
			r.Drops += v.drops
			if v.closeCode != "" {
				r.Closes[v.closeCode]++
			}
			continue
		}
		g := groups[kind]
		if g == nil {
			g = &groupReport{Closes: map[string]int{}}
			groups[kind] = g
		}
		g.Count++
		if kind == "frozen" {
			continue // its close cannot be seen from here: see MisbehavingClosedAfterMS
		}
		if v.closedAt.IsZero() {
			g.StillOpen++
		} else {
			closedAfter[kind] = append(closedAfter[kind], v.closedAt.Sub(v.misbehave))
			g.Closes[v.closeCode]++
		}
	}
	var lastMisbehave time.Time
	for _, v := range viewers {
		if v.misbehave.After(lastMisbehave) {
			lastMisbehave = v.misbehave
		}
	}
	if at := goneAt.Load(); at != 0 && !lastMisbehave.IsZero() {
		r.MisbehavingClosedAfterMS = float64(time.Unix(0, at).Sub(lastMisbehave).Microseconds()) / 1000
	}
	for kind, g := range groups {
		g.ClosedAfterMS = percentilesOf(closedAfter[kind])
	}
	r.Slow, r.Frozen, r.Silent = groups["slow"], groups["frozen"], groups["silent"]
	if cfg.Churn > 0 {
		r.Churn = &churn
	}
	r.FirstMediaMS, r.DelayMS, r.MaxSilenceMS = percentilesOf(firsts), percentilesOf(delays), percentilesOf(silences)

	if metricsErr == nil && heldErr == nil && duringErr == nil {
		after := waitDrained(parent, metricsURL, before)
		r.Server = &serverReport{
			CPUPercent:      (during["process_cpu_seconds_total"] - held["process_cpu_seconds_total"]) / elapsed.Seconds() * 100,
			RSSBefore:       before["process_resident_memory_bytes"],
			RSSHeld:         held["process_resident_memory_bytes"],
			RSSAfter:        after["process_resident_memory_bytes"],
			GoroutinesDelta: after["go_goroutines"] - before["go_goroutines"],
			FDsDelta:        after["process_open_fds"] - before["process_open_fds"],
			ViewersHeld:     held["decoder_viewers"],
			ViewersAfter:    after["decoder_viewers"],
			DroppedMessages: during["decoder_dropped_messages_total"] - held["decoder_dropped_messages_total"],
		}
	}
	return r, nil
}

// runLoadViewer is a viewer that reads like a browser: every message, with
// pings answered by the WebSocket library as it reads. Slow viewers read
// at a fraction of the rate they measured in their first second; frozen
// ones stop reading after their first message.
func runLoadViewer(ctx context.Context, cfg loadConfig, kind string, v *loadViewer, dialed func(), measuring *atomic.Bool, received, receivedBytes *atomic.Int64) {
	dialedAt := time.Now()
	dctx, cancel := context.WithTimeout(ctx, loadDialTimeout)
	var opts *websocket.DialOptions
	if kind != "healthy" {
		// A small receive buffer, so that what the viewer does not read
		// backs up to the server quickly, as on a slow link.
		opts = &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if tc, ok := conn.(*net.TCPConn); ok {
					tc.SetReadBuffer(16 << 10)
				}
				return conn, err
			},
		}}}
	}
	c, _, err := websocket.Dial(dctx, cfg.URL, opts)
	cancel()
	v.err, v.connected = err, err == nil
	dialed()
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(16 << 20)
	last := time.Now()
	var slowGap time.Duration
	for {
		typ, data, err := c.Read(ctx)
		now := time.Now()
		if err != nil {
			if ctx.Err() == nil {
				v.closedAt = now
				v.closeCode = closeCodeOf(err)
			}
			return
		}
		if v.messages > 0 && measuring.Load() {
			v.maxSilence = max(v.maxSilence, now.Sub(last))
		}
		last = now
		v.messages++
		v.bytes += int64(len(data))
		if measuring.Load() && kind == "healthy" {
			received.Add(1)
			receivedBytes.Add(int64(len(data)))
		}
		if typ == websocket.MessageBinary {
			if v.firstMedia == 0 && len(data) > 8 && string(data[4:8]) == "moof" {
				v.firstMedia = now.Sub(dialedAt)
			}
		} else {
			v.readText(data, now, dialedAt, measuring.Load())
		}
		switch kind {
		case "frozen":
			if v.messages == 1 {
				// Stop reading and keep the socket: the server must notice
				// by its write deadline. Its close cannot be seen without
				// reading, so the report times it from the server's
				// viewer count.
				v.misbehave = time.Now()
				<-ctx.Done()
				return
			}
		case "slow":
			if v.misbehave.IsZero() && now.Sub(dialedAt) > time.Second && v.messages > 1 {
				rate := float64(v.messages) / now.Sub(dialedAt).Seconds()
				slowGap = time.Duration(float64(time.Second) / (rate * cfg.SlowRate))
				v.misbehave = now
			}
			if slowGap > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(slowGap):
				}
			}
		}
	}
}

// readText takes what a viewer learns from a JSON message: the producer's
// timestamp (demo-text) for the fan-out delay, and the server's drop count.
func (v *loadViewer) readText(data []byte, now, dialed time.Time, measuring bool) {
	var m struct {
		Type  string `json:"type"`
		TS    int64  `json:"ts"`
		Drops uint64 `json:"drops"`
	}
	if json.Unmarshal(data, &m) != nil {
		return
	}
	switch m.Type {
	case "data":
		if v.firstMedia == 0 {
			v.firstMedia = now.Sub(dialed)
		}
		if measuring && m.TS > 0 {
			v.delays = append(v.delays, now.Sub(time.Unix(0, m.TS)))
		}
	case "stats":
		v.drops = m.Drops
	}
}

// closeCodeOf names how a connection ended: its close code, or "abrupt".
func closeCodeOf(err error) string {
	if code := websocket.CloseStatus(err); code != -1 {
		return strconv.Itoa(int(code))
	}
	return "abrupt"
}

// runSilentViewer reads everything and never writes: no pong, no close.
// The server must drop it after its ping interval and pong timeout.
func runSilentViewer(ctx context.Context, target string, v *loadViewer, dialed func()) {
	conn, br, err := rawHandshake(ctx, target, nil)
	v.err, v.connected = err, err == nil
	v.misbehave = time.Now()
	dialed()
	if err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	io.Copy(io.Discard, br)
	if ctx.Err() == nil {
		v.closedAt = time.Now()
		v.closeCode = "abrupt"
	}
	conn.Close()
}

// churnOnce connects, reads the first frame and vanishes: RST, no close
// frame, as a tab killed or a laptop lid shut.
func churnOnce(ctx context.Context, target string) error {
	conn, br, err := rawHandshake(ctx, target, nil)
	if err != nil {
		return err
	}
	conn.SetReadDeadline(time.Now().Add(loadDialTimeout))
	_, err = br.ReadByte()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
	return err
}
