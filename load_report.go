package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// loadDrainWait bounds the wait, after the run, for the target to show no
// viewers before its resources are read for the leak check.
const loadDrainWait = 20 * time.Second

// loadReport is the summary of a run; -json prints it as is.
type loadReport struct {
	Target         string         `json:"target"`
	Viewers        int            `json:"viewers"`
	Connected      int            `json:"connected"`
	Failed         int            `json:"failed"`
	FailureSample  string         `json:"failure_sample,omitempty"`
	Seconds        float64        `json:"seconds"`
	MessagesPerSec float64        `json:"messages_per_second"`
	BytesPerSec    float64        `json:"bytes_per_second"`
	FirstMediaMS   percentiles    `json:"first_media_ms"`
	DelayMS        percentiles    `json:"fanout_delay_ms"`
	MaxSilenceMS   percentiles    `json:"max_silence_ms"`
	Drops          uint64         `json:"drops"`
	Closes         map[string]int `json:"closes"`
	Slow           *groupReport   `json:"slow,omitempty"`
	Frozen         *groupReport   `json:"frozen,omitempty"`
	Silent         *groupReport   `json:"silent,omitempty"`
	Churn          *churnReport   `json:"churn,omitempty"`
	// MisbehavingClosedAfterMS is how long after the last viewer began to
	// misbehave the server's viewer count showed all of them gone; 0 if
	// it never did during the run.
	MisbehavingClosedAfterMS float64       `json:"misbehaving_closed_after_ms,omitempty"`
	Server                   *serverReport `json:"server,omitempty"`
}

// percentiles of a distribution, in milliseconds.
type percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// percentilesOf summarises values, which it sorts in place, by the median,
// the tail and the worst.
func percentilesOf(values []time.Duration) percentiles {
	if len(values) == 0 {
		return percentiles{}
	}
	slices.Sort(values)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return percentiles{
		Count: len(values),
		P50:   ms(values[len(values)/2]),
		P99:   ms(values[min(len(values)-1, len(values)*99/100)]),
		Max:   ms(values[len(values)-1]),
	}
}

// groupReport is how a group of misbehaving viewers ended.
type groupReport struct {
	Count int `json:"count"`
	// ClosedAfterMS is how long after it began misbehaving the server
	// closed each one; those still open at the end are not in it.
	ClosedAfterMS percentiles    `json:"closed_after_ms"`
	StillOpen     int            `json:"still_open"`
	Closes        map[string]int `json:"closes"`
}

// churnReport is how the churning connections fared: cycles completed in
// all, their rate while the viewers were held, and handshakes that failed.
type churnReport struct {
	Cycles    int64   `json:"cycles"`
	PerSecond float64 `json:"per_second"`
	Failed    int64   `json:"failed"`
}

// serverReport compares the target's /metrics before and after the run.
type serverReport struct {
	CPUPercent      float64 `json:"cpu_percent"`
	RSSBefore       float64 `json:"rss_before_bytes"`
	RSSHeld         float64 `json:"rss_held_bytes"`
	RSSAfter        float64 `json:"rss_after_bytes"`
	GoroutinesDelta float64 `json:"goroutines_delta"`
	FDsDelta        float64 `json:"fds_delta"`
	ViewersHeld     float64 `json:"viewers_held"`
	ViewersAfter    float64 `json:"viewers_after"`
	DroppedMessages float64 `json:"dropped_messages"`
}

// newServerReport is what the run cost the target, from its metrics before
// the run, held (all viewers connected), during (at the end of the hold) and
// after (drained); elapsed is the hold's length.
func newServerReport(before, held, during, after map[string]float64, elapsed time.Duration) *serverReport {
	return &serverReport{
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

// metricsURLOf is the /metrics of the server of target, a ws:// or wss://
// URL.
func metricsURLOf(target string) string {
	u, _ := url.Parse(target)
	return (&url.URL{Scheme: strings.Replace(u.Scheme, "ws", "http", 1), Host: u.Host, Path: "/metrics"}).String()
}

// waitDrained reads the target's metrics until it has no viewers and its
// goroutines are back to where they were, or loadDrainWait passes.
func waitDrained(ctx context.Context, metricsURL string, before map[string]float64) map[string]float64 {
	deadline := time.Now().Add(loadDrainWait)
	for {
		m, err := readMetrics(ctx, metricsURL)
		if err == nil && m["decoder_viewers"] == 0 && m["go_goroutines"] <= before["go_goroutines"] && m["process_open_fds"] <= before["process_open_fds"] {
			return m
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return m
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metricsClient keeps no idle connection to the target, whose goroutines
// and file descriptors it counts.
var metricsClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// readMetrics reads the series of a Prometheus text page.
func readMetrics(ctx context.Context, metricsURL string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	resp, err := metricsClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", metricsURL, resp.Status)
	}
	m := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			m[f[0]], _ = strconv.ParseFloat(f[1], 64)
		}
	}
	return m, sc.Err()
}

// print writes the report for a person, one figure a line, leaving out
// what the run did not measure.
func (r *loadReport) print(w io.Writer) {
	fmt.Fprintf(w, "target      %s\n", r.Target)
	fmt.Fprintf(w, "viewers     %d connected, %d failed", r.Connected, r.Failed)
	if r.FailureSample != "" {
		fmt.Fprintf(w, " (e.g. %s)", r.FailureSample)
	}
	fmt.Fprintf(w, "\ndelivered   %.0f messages/s, %.2f MB/s to healthy viewers over %.1f s\n", r.MessagesPerSec, r.BytesPerSec/1e6, r.Seconds)
	printPct := func(name string, p percentiles) {
		if p.Count > 0 {
			fmt.Fprintf(w, "%-11s p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d samples)\n", name, p.P50, p.P99, p.Max, p.Count)
		}
	}
	printPct("first media", r.FirstMediaMS)
	printPct("delay", r.DelayMS)
	printPct("max silence", r.MaxSilenceMS)
	fmt.Fprintf(w, "drops       %d reported by the server\n", r.Drops)
	if len(r.Closes) > 0 {
		fmt.Fprintf(w, "closes      %v\n", r.Closes)
	}
	if r.Frozen != nil {
		fmt.Fprintf(w, "frozen      %d stopped reading (a client cannot see when the server drops them: see server side)\n", r.Frozen.Count)
	}
	for _, g := range []struct {
		kind viewerKind
		g    *groupReport
	}{{slowViewer, r.Slow}, {silentViewer, r.Silent}} {
		if g.g != nil {
			fmt.Fprintf(w, "%-11s %d: closed by the server after p50 %.0f ms, max %.0f ms; %d still open; closes %v\n",
				g.kind, g.g.Count, g.g.ClosedAfterMS.P50, g.g.ClosedAfterMS.Max, g.g.StillOpen, g.g.Closes)
		}
	}
	if r.MisbehavingClosedAfterMS > 0 {
		fmt.Fprintf(w, "server side all misbehaving viewers closed %.0f ms after the last began\n", r.MisbehavingClosedAfterMS)
	}
	if r.Churn != nil {
		fmt.Fprintf(w, "churn       %d abrupt disconnects (%.0f/s), %d failed\n", r.Churn.Cycles, r.Churn.PerSecond, r.Churn.Failed)
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(w, "server      %.1f %% CPU while held; RSS %.1f → %.1f MiB held (%.1f KiB per viewer) → %.1f MiB after\n",
			s.CPUPercent, s.RSSBefore/(1<<20), s.RSSHeld/(1<<20), (s.RSSHeld-s.RSSBefore)/max(1, s.ViewersHeld)/1024, s.RSSAfter/(1<<20))
		fmt.Fprintf(w, "leak check  goroutines %+.0f, fds %+.0f, viewers left %.0f\n", s.GoroutinesDelta, s.FDsDelta, s.ViewersAfter)
	}
}
