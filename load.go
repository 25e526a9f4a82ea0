package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
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

// parseLoadConfig reads `decoder load`'s flags, and refuses a run it should
// not make: see check.
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
	return c, c.check()
}

// check refuses a run outside the bounds of a measuring tool, and, unless
// allowed, one against another machine, which would be an attack on it.
func (c loadConfig) check() error {
	total := c.Viewers + c.Slow + c.Frozen + c.Silent + c.Churn
	switch {
	case c.Viewers < 0 || c.Slow < 0 || c.Frozen < 0 || c.Silent < 0 || c.Churn < 0 || c.ChurnTotal < 0:
		return errors.New("counts must not be negative")
	case total == 0:
		return errors.New("nothing to do: give -viewers, -slow, -frozen, -silent or -churn")
	case total > loadMaxViewers:
		return fmt.Errorf("at most %d connections at once, asked for %d", loadMaxViewers, total)
	case c.Duration <= 0 || c.Duration > loadMaxDuration || c.Ramp < 0 || c.Ramp > loadMaxDuration:
		return fmt.Errorf("-duration must be from 1ns to %v and -ramp from 0 to %v", loadMaxDuration, loadMaxDuration)
	case c.SlowRate <= 0 || c.SlowRate >= 1:
		return errors.New("-slow-rate must be between 0 and 1")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return fmt.Errorf("-url must be a ws:// or wss:// URL such as ws://127.0.0.1:3000/live?url=demo://")
	}
	if !c.AllowRemote && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("%s is not this machine; load other machines only with -allow-remote", u.Hostname())
	}
	return nil
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

// loadRun is one run of `decoder load`: its viewers, its churn and what
// they share.
type loadRun struct {
	cfg        loadConfig
	metricsURL string
	// viewers are in the order they connect: healthy, slow, frozen, silent.
	viewers []*loadViewer
	tally   loadTally
	// dialing counts the viewers still connecting: the target is measured
	// once every viewer has connected or failed.
	dialing  sync.WaitGroup
	viewing  sync.WaitGroup // the viewers
	churning sync.WaitGroup // the churn workers
	// churnCycles counts the churn cycles completed, churnFailed those
	// that failed.
	churnCycles, churnFailed atomic.Int64
}

// loadWindow is what a run measured while it held its viewers.
type loadWindow struct {
	elapsed time.Duration
	// messages and bytes are what the healthy viewers received.
	messages, bytes int64
	churned         int64 // churn cycles completed
	// goneAt is when the target's viewer count showed every misbehaving
	// viewer gone; zero if it did not, or was not watched.
	goneAt time.Time
}

// newLoadRun makes the run's viewers, each of its kind, in the order they
// will connect.
func newLoadRun(cfg loadConfig) *loadRun {
	run := &loadRun{cfg: cfg, metricsURL: metricsURLOf(cfg.URL)}
	for _, k := range []struct {
		n    int
		kind viewerKind
	}{{cfg.Viewers, healthyViewer}, {cfg.Slow, slowViewer}, {cfg.Frozen, frozenViewer}, {cfg.Silent, silentViewer}} {
		for range k.n {
			run.viewers = append(run.viewers, &loadViewer{kind: k.kind})
		}
	}
	return run
}

// loadTarget runs the scenario and gathers the report: it connects the
// viewers over the ramp and starts the churn, holds them all for the
// duration once connected, and ends them. The target's /metrics, read
// before, once all are connected, at the end and once drained, give the
// server's side.
func loadTarget(ctx context.Context, cfg loadConfig) (*loadReport, error) {
	run := newLoadRun(cfg)
	before, beforeErr := readMetrics(ctx, run.metricsURL)
	runCtx, stopViewers := context.WithCancel(ctx)
	defer stopViewers()
	churnCtx, stopChurn := context.WithCancel(runCtx)
	defer stopChurn()
	run.dialViewers(runCtx)
	run.startChurn(churnCtx, stopChurn)
	run.dialing.Wait()
	held, heldErr := readMetrics(runCtx, run.metricsURL)
	w, during, duringErr := run.measure(runCtx, churnCtx, heldErr == nil)
	stopChurn()
	run.churning.Wait()
	stopViewers()
	run.viewing.Wait()
	r := run.report(w)
	if beforeErr == nil && heldErr == nil && duringErr == nil {
		after := waitDrained(ctx, run.metricsURL, before)
		r.Server = newServerReport(before, held, during, after, w.elapsed)
	}
	return r, nil
}

// dialViewers starts the viewers, spread evenly over the ramp, as a crowd
// arrives; it returns once the last has started.
func (run *loadRun) dialViewers(ctx context.Context) {
	start := time.Now()
	n := len(run.viewers)
	for i, v := range run.viewers {
		if run.cfg.Ramp > 0 && n > 1 {
			due := start.Add(run.cfg.Ramp * time.Duration(i) / time.Duration(n-1))
			select {
			case <-ctx.Done():
			case <-time.After(time.Until(due)):
			}
		}
		run.dialing.Add(1)
		run.viewing.Go(func() {
			if v.kind == silentViewer {
				runSilentViewer(ctx, run.cfg.URL, v, run.dialing.Done)
				return
			}
			runLoadViewer(ctx, run.cfg.URL, run.cfg.SlowRate, v, run.dialing.Done, &run.tally)
		})
	}
}

// startChurn starts the churn workers, which cycle until ctx ends or, if
// the run has a churn total, they reach it and call stop.
func (run *loadRun) startChurn(ctx context.Context, stop context.CancelFunc) {
	for range run.cfg.Churn {
		run.churning.Go(func() {
			for ctx.Err() == nil {
				if run.cfg.ChurnTotal > 0 && run.churnCycles.Load() >= int64(run.cfg.ChurnTotal) {
					stop()
					return
				}
				if err := churnOnce(ctx, run.cfg.URL); err != nil {
					if ctx.Err() == nil {
						run.churnFailed.Add(1)
					}
				} else {
					run.churnCycles.Add(1)
				}
			}
		})
	}
}

// measure holds the connected viewers for the run's duration and returns
// what they received meanwhile and the target's metrics at the end.
// watchTarget says whether the target's metrics can be read, to see the
// server close the misbehaving viewers.
func (run *loadRun) measure(ctx, churnCtx context.Context, watchTarget bool) (loadWindow, map[string]float64, error) {
	run.tally.measuring.Store(true)
	start := time.Now()
	churn0 := run.churnCycles.Load()
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	var watching sync.WaitGroup
	var goneAt time.Time
	// Churning connections would blur the target's viewer count.
	if watchTarget && run.cfg.Slow+run.cfg.Frozen+run.cfg.Silent > 0 && run.cfg.Churn == 0 {
		healthy := run.connected(healthyViewer)
		watching.Go(func() { goneAt = run.watchGone(watchCtx, healthy) })
	}
	run.hold(ctx, churnCtx)
	run.tally.measuring.Store(false)
	w := loadWindow{
		elapsed:  time.Since(start),
		messages: run.tally.messages.Load(),
		bytes:    run.tally.bytes.Load(),
		churned:  run.churnCycles.Load() - churn0,
	}
	during, err := readMetrics(ctx, run.metricsURL)
	stopWatching()
	watching.Wait()
	w.goneAt = goneAt
	return w, during, err
}

// connected counts the viewers of kind that connected.
func (run *loadRun) connected(kind viewerKind) int {
	n := 0
	for _, v := range run.viewers {
		if v.connected && v.kind == kind {
			n++
		}
	}
	return n
}

// watchGone reads the target's viewer count until it is down to the
// healthy viewers connected, and returns when; zero if ctx ends first. The
// count shows when the server has closed every misbehaving viewer, frozen
// ones included, whose close a client cannot see. The server may count a
// viewer a moment after its handshake: the healthy viewers connected, not
// the count once they had, are what must remain.
func (run *loadRun) watchGone(ctx context.Context, healthy int) time.Time {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return time.Time{}
		case <-tick.C:
		}
		m, err := readMetrics(ctx, run.metricsURL)
		if err == nil && m["decoder_viewers"] <= float64(healthy) {
			return time.Now()
		}
	}
}

// hold waits for the run's duration; churn alone with a total ends when
// the total is reached, if that comes first.
func (run *loadRun) hold(ctx, churnCtx context.Context) {
	done := ctx.Done()
	if run.cfg.ChurnTotal > 0 && len(run.viewers) == 0 {
		done = churnCtx.Done()
	}
	select {
	case <-done:
	case <-time.After(run.cfg.Duration):
	}
}

// report gathers the viewers' figures and what the run measured into the
// summary.
func (run *loadRun) report(w loadWindow) *loadReport {
	secs := w.elapsed.Seconds()
	r := &loadReport{
		Target: run.cfg.URL, Viewers: run.cfg.Viewers, Seconds: secs,
		MessagesPerSec: float64(w.messages) / secs, BytesPerSec: float64(w.bytes) / secs,
		Closes: map[string]int{},
	}
	f := viewerFigures{r: r, groups: map[viewerKind]*groupReport{}, closedAfter: map[viewerKind][]time.Duration{}}
	for _, v := range run.viewers {
		f.add(v)
	}
	f.finish()
	r.MisbehavingClosedAfterMS = misbehavingClosedAfterMS(run.viewers, w.goneAt)
	if run.cfg.Churn > 0 {
		r.Churn = &churnReport{
			Cycles:    run.churnCycles.Load(),
			PerSecond: float64(w.churned) / secs,
			Failed:    run.churnFailed.Load(),
		}
	}
	return r
}

// viewerFigures gathers each viewer's figures into a report: distributions
// over the healthy viewers, and a group for each kind of misbehaving one.
type viewerFigures struct {
	r                        *loadReport
	firsts, delays, silences []time.Duration
	groups                   map[viewerKind]*groupReport
	// closedAfter is, by kind, how long after it began misbehaving the
	// server closed each viewer.
	closedAfter map[viewerKind][]time.Duration
}

// add counts a viewer: failed, healthy or in its misbehaving group.
func (f *viewerFigures) add(v *loadViewer) {
	switch {
	case !v.connected:
		f.r.Failed++
		if f.r.FailureSample == "" && v.err != nil {
			f.r.FailureSample = v.err.Error()
		}
	case v.kind == healthyViewer:
		f.r.Connected++
		if v.firstMedia > 0 {
			f.firsts = append(f.firsts, v.firstMedia)
		}
		f.delays = append(f.delays, v.delays...)
		f.silences = append(f.silences, v.maxSilence)
		f.r.Drops += v.drops
		if v.closeCode != "" {
			f.r.Closes[v.closeCode]++
		}
	default:
		f.r.Connected++
		f.addMisbehaving(v)
	}
}

// addMisbehaving counts a misbehaving viewer in its group, with how long
// the server took to close it.
func (f *viewerFigures) addMisbehaving(v *loadViewer) {
	g := f.groups[v.kind]
	if g == nil {
		g = &groupReport{Closes: map[string]int{}}
		f.groups[v.kind] = g
	}
	g.Count++
	switch {
	case v.kind == frozenViewer:
		// Its close cannot be seen from here: see MisbehavingClosedAfterMS.
	case v.closedAt.IsZero():
		g.StillOpen++
	default:
		f.closedAfter[v.kind] = append(f.closedAfter[v.kind], v.closedAt.Sub(v.misbehave))
		g.Closes[v.closeCode]++
	}
}

// finish puts the distributions and groups into the report.
func (f *viewerFigures) finish() {
	for kind, g := range f.groups {
		g.ClosedAfterMS = percentilesOf(f.closedAfter[kind])
	}
	f.r.Slow, f.r.Frozen, f.r.Silent = f.groups[slowViewer], f.groups[frozenViewer], f.groups[silentViewer]
	f.r.FirstMediaMS, f.r.DelayMS, f.r.MaxSilenceMS = percentilesOf(f.firsts), percentilesOf(f.delays), percentilesOf(f.silences)
}

// misbehavingClosedAfterMS is how long after the last viewer began to
// misbehave the target showed them all gone, at goneAt; 0 if it did not,
// or none misbehaved.
func misbehavingClosedAfterMS(viewers []*loadViewer, goneAt time.Time) float64 {
	var last time.Time
	for _, v := range viewers {
		if v.misbehave.After(last) {
			last = v.misbehave
		}
	}
	if goneAt.IsZero() || last.IsZero() {
		return 0
	}
	return float64(goneAt.Sub(last).Microseconds()) / 1000
}
