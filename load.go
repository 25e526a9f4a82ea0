package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
		kind viewerKind
	}{{cfg.Viewers, healthyViewer}, {cfg.Slow, slowViewer}, {cfg.Frozen, frozenViewer}, {cfg.Silent, silentViewer}}
	total := cfg.Viewers + cfg.Slow + cfg.Frozen + cfg.Silent
	viewers := make([]*loadViewer, 0, total)
	var tally loadTally
	var wg sync.WaitGroup
	// dialing counts the viewers still connecting: the target is measured
	// once every viewer has connected or failed.
	var dialing sync.WaitGroup
	start := time.Now()
	i := 0
	for _, k := range kinds {
		for range k.n {
			v := &loadViewer{kind: k.kind}
			viewers = append(viewers, v)
			if cfg.Ramp > 0 && total > 1 {
				due := start.Add(cfg.Ramp * time.Duration(i) / time.Duration(total-1))
				select {
				case <-ctx.Done():
				case <-time.After(time.Until(due)):
				}
			}
			i++
			dialing.Add(1)
			wg.Go(func() {
				switch v.kind {
				case silentViewer:
					runSilentViewer(ctx, cfg.URL, v, dialing.Done)
				default:
					runLoadViewer(ctx, cfg.URL, cfg.SlowRate, v, dialing.Done, &tally)
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
	// Measuring starts when every viewer has connected.
	tally.measuring.Store(true)
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
	for _, v := range viewers {
		if v.connected && v.kind == healthyViewer {
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
	tally.measuring.Store(false)
	elapsed := time.Since(measureStart)
	msgs, byteCount := tally.messages.Load(), tally.bytes.Load()
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
	groups := map[viewerKind]*groupReport{}
	var closedAfter = map[viewerKind][]time.Duration{}
	for _, v := range viewers {
		kind := v.kind
		if !v.connected {
			r.Failed++
			if r.FailureSample == "" && v.err != nil {
				r.FailureSample = v.err.Error()
			}
			continue
		}
		r.Connected++
		if kind == healthyViewer {
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
		if kind == frozenViewer {
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
	r.Slow, r.Frozen, r.Silent = groups[slowViewer], groups[frozenViewer], groups[silentViewer]
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
