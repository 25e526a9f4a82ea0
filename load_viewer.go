package main

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

// viewerKind is how a viewer of `decoder load` behaves: as a browser does,
// or in one of the ways the server must survive.
type viewerKind int

const (
	// healthyViewer reads everything and answers pings, as a browser.
	healthyViewer viewerKind = iota
	// slowViewer reads at a fraction of the stream's rate.
	slowViewer
	// frozenViewer stops reading after its first message.
	frozenViewer
	// silentViewer reads everything and never answers a ping.
	silentViewer
)

// String is the kind's name, as the printed report gives it.
func (k viewerKind) String() string {
	return [...]string{"healthy", "slow", "frozen", "silent"}[k]
}

// loadViewer is one viewer's figures. Its kind is set before it starts;
// the rest is written by its goroutine only, and read once it has ended.
type loadViewer struct {
	kind       viewerKind
	connected  bool
	err        error
	firstMedia time.Duration
	delays     []time.Duration
	maxSilence time.Duration
	messages   int64
	drops      uint64
	closeCode  string
	closedAt   time.Time // when the server closed it
	misbehave  time.Time // when it began misbehaving
	// slowGap is the pause a slow viewer makes before each read, once it
	// has measured the stream's rate.
	slowGap time.Duration
}

// loadTally is what the healthy viewers received together while the run
// was measuring; the run turns measuring on and off.
type loadTally struct {
	measuring       atomic.Bool
	messages, bytes atomic.Int64
}

// runLoadViewer is a viewer that reads like a browser: every message, with
// pings answered as it reads. Slow viewers read at slowRate of the rate
// they measured in their first second; frozen ones stop reading after
// their first message. dialed is called once the viewer has connected or
// failed to.
func runLoadViewer(ctx context.Context, target string, slowRate float64, v *loadViewer, dialed func(), tally *loadTally) {
	dialedAt := time.Now()
	conn, br, err := rawHandshake(ctx, target, nil)
	v.err, v.connected = err, err == nil
	dialed()
	if err != nil {
		return
	}
	defer conn.Close()
	if v.kind != healthyViewer {
		// What a misbehaving viewer does not read backs up to the
		// server quickly, as on a slow link.
		if tc := tcpOf(conn); tc != nil {
			tc.SetReadBuffer(16 << 10)
		}
	}
	// Ending ctx closes the connection, which ends the read in progress.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	r := newWSReader(conn, br)
	last := time.Now()
	for {
		binary, data, err := r.next()
		now := time.Now()
		if err != nil {
			if ctx.Err() == nil {
				v.closedAt = now
				v.closeCode = closeCodeOf(err)
			}
			return
		}
		v.take(binary, data, now, last, dialedAt, tally)
		last = now
		if !v.behave(ctx, now, dialedAt, slowRate) {
			return
		}
	}
}

// take counts a message the viewer read at now, the one before at last:
// the longest silence, time to first media, and, from healthy viewers
// while the run is measuring, the tally.
func (v *loadViewer) take(binary bool, data []byte, now, last, dialedAt time.Time, tally *loadTally) {
	measuring := tally.measuring.Load()
	if v.messages > 0 && measuring {
		v.maxSilence = max(v.maxSilence, now.Sub(last))
	}
	v.messages++
	if measuring && v.kind == healthyViewer {
		tally.messages.Add(1)
		tally.bytes.Add(int64(len(data)))
	}
	if binary {
		if v.firstMedia == 0 && len(data) > 8 && string(data[4:8]) == "moof" {
			v.firstMedia = now.Sub(dialedAt)
		}
	} else {
		v.readText(data, now, dialedAt, measuring)
	}
}

// behave does what the viewer's kind does after a message it read at now,
// and reports whether to read on.
func (v *loadViewer) behave(ctx context.Context, now, dialedAt time.Time, slowRate float64) bool {
	switch v.kind {
	case frozenViewer:
		if v.messages == 1 {
			// Stop reading and keep the socket: the server must notice
			// by its write deadline. Its close cannot be seen without
			// reading, so the report times it from the server's viewer
			// count.
			v.misbehave = time.Now()
			<-ctx.Done()
			return false
		}
	case slowViewer:
		if v.misbehave.IsZero() && now.Sub(dialedAt) > time.Second && v.messages > 1 {
			rate := float64(v.messages) / now.Sub(dialedAt).Seconds()
			v.slowGap = time.Duration(float64(time.Second) / (rate * slowRate))
			v.misbehave = now
		}
		if v.slowGap > 0 {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(v.slowGap):
			}
		}
	}
	return true
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

// closeCodeOf names how a connection ended: the close code the server
// sent, or "abrupt".
func closeCodeOf(err error) string {
	if c, ok := err.(serverClose); ok {
		return strconv.Itoa(c.code)
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
	if tc := tcpOf(conn); tc != nil {
		tc.SetLinger(0)
	}
	conn.Close()
	return err
}
