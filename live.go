package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// closeGrace bounds a close handshake, so a peer that vanished during it
// costs at most this long.
const closeGrace = time.Second

// replyQueue bounds the replies to a viewer's own messages that wait for the
// writer; a viewer that sends faster than it reads loses the extra replies.
const replyQueue = 8

// liveHandler serves GET /live?url=…: one WebSocket connection is one viewer
// of a shared source.
type liveHandler struct {
	cfg      LiveConfig
	hub      *Hub
	origins  originPolicy
	log      *slog.Logger
	sessions *sessions
	access   *accessPolicy
}

func (h *liveHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A browser cannot read the body of a refused handshake, so only what a
	// page must not learn anything from is refused before the upgrade.
	if origin := r.Header.Get("Origin"); origin != "" && !h.origins.allows(origin, r.Host) {
		writeError(w, http.StatusForbidden, "origin %s is not allowed to use /live; start decoder with -allowed-origins %s to allow it", origin, origin)
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		w.Header().Set("Upgrade", "websocket")
		writeError(w, http.StatusUpgradeRequired, "/live is a WebSocket endpoint: connect with new WebSocket('ws://%s/live?url=rtsp://camera/stream')", r.Host)
		return
	}
	// Checked here so that a client that gets the handshake wrong hears why
	// in the same envelope as every other HTTP error.
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		writeError(w, http.StatusUpgradeRequired, "unsupported Sec-WebSocket-Version %q: decoder speaks version 13 (RFC 6455)", v)
		return
	}
	if key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Header.Get("Sec-WebSocket-Key"))); err != nil || len(key) != 16 {
		writeError(w, http.StatusBadRequest, "missing or invalid Sec-WebSocket-Key: want 16 random bytes in base64")
		return
	}
	netConn, _ := r.Context().Value(netConnKey{}).(net.Conn)
	if netConn == nil {
		writeError(w, http.StatusInternalServerError, "connection not tracked")
		return
	}
	if !h.sessions.enter() {
		writeError(w, http.StatusServiceUnavailable, "decoder is shutting down")
		return
	}

	// What the viewer may play is decided after the upgrade, so that a
	// refusal reaches the page as a close code with its reason.
	g := h.access.grantOf(r)
	v := &viewer{cfg: h.cfg, netConn: netConn, hub: h.hub, replies: make(chan []byte, replyQueue),
		out: &frameWriter{timeout: h.cfg.WriteTimeout}, grant: g}
	conn, err := websocket.Accept(&framingWriter{ResponseWriter: w, out: v.out}, r, &websocket.AcceptOptions{
		// The origin was checked above with decoder's own policy.
		InsecureSkipVerify: true,
		OnPongReceived:     func(context.Context, []byte) { v.heard() },
	})
	if err != nil {
		h.sessions.leave()
		h.log.Debug("failed to accept WebSocket", "err", err)
		return
	}
	v.conn = conn
	// The session outlives this handler, so that net/http lets go of what
	// it kept for the request (its buffers, the handler's deep stack);
	// sessions owns it, and shutdown waits for it.
	rawQuery := r.URL.RawQuery
	ctx, stop := g.session(h.sessions.ctx)
	go func() {
		defer h.sessions.leave()
		defer stop()
		v.serve(ctx, rawQuery, h.log)
	}()
}

// viewer is one /live connection. Its writer runs on the session's
// goroutine and is the only one to send data; its reader runs on another.
// Both share ctx: whichever fails first cancels it with the reason, and the
// writer turns that reason into the close the peer gets.
type viewer struct {
	cfg     LiveConfig
	hub     *Hub
	conn    *websocket.Conn
	netConn net.Conn
	out     *frameWriter
	sub     *subscription
	// src is the source the viewer asked for, and spec what its browser
	// plays, when it said (codecs=, height=); converted is set once it
	// has moved to an output made for that.
	src       source
	spec      outputSpec
	specGiven bool
	converted bool
	replies   chan []byte
	grant     grant          // what the viewer may play
	wg        sync.WaitGroup // the reader and pings in flight
	pinging   atomic.Bool

	// Owned by the writer. batch holds the frames gathered for the next
	// write, nil between writes.
	batch       *frameBatch
	lastStatus  *frame
	lastInit    *mediaInit
	behindSince time.Time
	lastDrop    time.Time
	lag         time.Duration
	sent        counters
	flushed     counters
}

// counters are what a viewer delivered.
type counters struct{ bytes, messages, drops uint64 }

// serve runs the session and returns when all its goroutines have ended.
func (v *viewer) serve(parent context.Context, rawQuery string, log *slog.Logger) {
	if tc, ok := v.netConn.(*net.TCPConn); ok && v.cfg.SendBuffer > 0 {
		tc.SetWriteBuffer(v.cfg.SendBuffer)
	}
	// http.Server's deadlines stay on a hijacked connection; the session
	// sets its own.
	v.netConn.SetDeadline(time.Time{})
	v.conn.SetReadLimit(v.cfg.MaxMessageBytes)

	// "The reader, the writer and the producer share one context" is
	// realised in three parts. The reader and the writer share ctx, the
	// session's: whichever fails first cancels it with its reason, and the
	// writer turns that reason into the close the viewer gets. The shared
	// producer outlives any one viewer, so it cannot hold their contexts;
	// its end reaches every session through the end of its ring
	// (readResult.end), which the writer returns like any other failure.
	// A viewer's failure ends only its own subscription: the producer goes
	// on for the others and stops -linger after the last one leaves.
	// parent, the service's, ends every session at shutdown.
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)

	var err error
	v.sub, err = v.subscribe(rawQuery)
	// The peer's silence is counted from here, when reading begins.
	v.heard()
	if err != nil {
		v.wg.Go(func() { v.readLoop(cancel) })
		v.close(err)
		v.wg.Wait()
		return
	}
	log = log.With("source", v.sub.s.display, "peer", v.netConn.RemoteAddr().String())
	log.Debug("viewer joined")

	v.wg.Go(func() { v.readLoop(cancel) })
	cancel(v.writeLoop(ctx))
	cause := context.Cause(ctx)
	v.close(cause)
	v.wg.Wait()
	v.flush()
	v.sub.Close()
	log.Debug("viewer left", "reason", cause)
}

// subscribe checks the parameters of /live and joins the source they name.
func (v *viewer) subscribe(rawQuery string) (*subscription, error) {
	if err := v.grant.allowed(); err != nil {
		return nil, err
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, badSource(closeBadRequest, "the /live parameters cannot be read: separate them with & and encode the source URL with encodeURIComponent, as in /live?url=rtsp%3A%2F%2Fcamera%2Fstream")
	}
	startNext, err := parseStart(query.Get("start"))
	if err != nil {
		return nil, err
	}
	if v.spec, v.specGiven, err = parseOutputSpec(query); err != nil {
		return nil, err
	}
	if v.src, err = v.grant.source(query, v.cfg.Sources); err != nil {
		return nil, err
	}
	return v.hub.Subscribe(v.src, subscribeOptions{startNext: startNext})
}

// chooseOutput decides, before a viewer that said what its browser plays
// gets a source's init, whether it can have the source as it is. If not,
// it moves the viewer to the output made for its browser, and reports
// that it did: what it was to send is not for it. Audio the browser
// cannot play, and no output would change, is said in a status.
func (v *viewer) chooseOutput(init *mediaInit) (moved bool, err error) {
	if !v.specGiven || v.converted {
		return false, nil
	}
	plan := planOutput(init.video, init.audio, v.spec)
	if !plan.needsConverter(init.audio) {
		if plan.dropWhy != "" {
			return false, v.queue(websocket.MessageText, statusMessage(Status{State: stateLive, Reason: plan.dropWhy}))
		}
		return false, nil
	}
	v.flush()
	sub, err := v.hub.Switch(v.sub, converterSource(v.hub, v.src, v.spec))
	if err != nil {
		return false, err
	}
	v.sub, v.converted, v.lastStatus = sub, true, nil
	return true, nil
}

// parseStart reads the start parameter of /live: where a viewer of a
// running source begins.
func parseStart(s string) (startNext bool, err error) {
	switch s {
	case "", "buffered":
		return false, nil
	case "next":
		return true, nil
	}
	return false, badSource(closeBadRequest, fmt.Sprintf("start must be buffered (the default: at once, from the buffered keyframe) or next (at the next keyframe), got %q", s))
}

// heard pushes the read deadline forward: the peer showed it is alive.
func (v *viewer) heard() {
	v.netConn.SetReadDeadline(time.Now().Add(v.cfg.PingInterval + v.cfg.PongTimeout))
}

// readLoop reads the viewer's messages until the connection fails; pongs
// are handled inside Read and reach heard.
func (v *viewer) readLoop(fail context.CancelCauseFunc) {
	for {
		// No context: cancelling one would drop the connection before the
		// writer could send its close frame. The read deadline bounds it.
		typ, data, err := v.conn.Read(context.Background())
		if err != nil {
			fail(readError(err))
			return
		}
		v.heard()
		if typ != websocket.MessageText {
			fail(errNotText)
			return
		}
		reply, err := parseClientMessage(data, time.Now())
		if err != nil {
			fail(err)
			return
		}
		select {
		case v.replies <- reply:
		default:
		}
	}
}

// readError maps a failed read to the reason the session ends.
func readError(err error) error {
	var ne net.Error
	switch {
	case websocket.CloseStatus(err) != -1:
		return errPeerClosed
	case errors.Is(err, websocket.ErrMessageTooBig):
		return errMessageSize
	case errors.As(err, &ne) && ne.Timeout():
		return errPeerSilent
	default:
		return errPeerGone
	}
}

// closedChan is always ready; the writer selects on it to poll.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// writeLoop sends the source's messages, replies, pings and stats until the
// session ends, and returns why.
func (v *viewer) writeLoop(ctx context.Context) error {
	pingTimer := time.NewTimer(v.cfg.PingInterval/2 + rand.N(v.cfg.PingInterval/2+1))
	defer pingTimer.Stop()
	statsTicker := time.NewTicker(v.cfg.StatsInterval)
	defer statsTicker.Stop()
	for {
		wake, err := v.gather()
		if ferr := v.send(); ferr != nil {
			return ferr
		}
		if err != nil {
			return err
		}
		poll := closedChan
		if wake != nil {
			poll = nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-wake:
		case <-poll:
		case reply := <-v.replies:
			if err := v.sendNow(websocket.MessageText, reply); err != nil {
				return err
			}
		case <-pingTimer.C:
			v.ping(ctx)
			pingTimer.Reset(v.cfg.PingInterval)
		case <-statsTicker.C:
			stats := viewerStats{v.sent.bytes, v.sent.messages, v.sent.drops, v.lag}
			if err := v.sendNow(websocket.MessageText, statsMessage(stats)); err != nil {
				return err
			}
			v.flush()
		}
	}
}

// gather reads what the viewer is to be sent into its batch, until it has
// read everything, when it returns the channel the next publish closes,
// or the batch is full, when it returns none: there may be more, after the
// writer has seen to its pings and stats.
func (v *viewer) gather() (wake <-chan struct{}, err error) {
	for v.batch == nil || !v.batch.full() {
		res := v.sub.read(v.cfg.MaxBacklog)
		v.sent.drops += res.dropped
		if err := v.sendStatus(res.status); err != nil {
			return nil, err
		}
		if res.ok {
			if err := v.deliver(res.entry); err != nil {
				return nil, err
			}
			v.lag = time.Since(res.entry.at)
		} else {
			if res.end != nil {
				return nil, res.end
			}
			v.lag = 0
		}
		if v.fellBehind(res) {
			return nil, errTooSlow
		}
		if !res.ok {
			return res.wake, nil
		}
	}
	return nil, nil
}

// fellBehind tracks how long the viewer has been behind live and reports
// whether that is longer than MaxLag. A viewer is behind from the moment it
// has a backlog or drops. It is back once it has delivered everything and
// not dropped for MaxLag/2: skipping ahead empties a backlog without keeping
// up, so a viewer at half the stream's rate, which drops every few
// MaxBacklogs, must not count as live in between.
func (v *viewer) fellBehind(res readResult) bool {
	now := time.Now()
	if res.dropped > 0 {
		v.lastDrop = now
	}
	if res.caughtUp && now.Sub(v.lastDrop) >= v.cfg.MaxLag/2 {
		v.behindSince = time.Time{}
		return false
	}
	if v.behindSince.IsZero() {
		v.behindSince = now
	}
	return now.Sub(v.behindSince) > v.cfg.MaxLag
}

// sendStatus sends the source status f unless the viewer already has it.
func (v *viewer) sendStatus(f *frame) error {
	if f == nil || f == v.lastStatus {
		return nil
	}
	if err := v.queue(websocket.MessageText, f.data); err != nil {
		return err
	}
	v.lastStatus = f
	return nil
}

// deliver queues e, preceded by the source status and the media init if
// the viewer lacks them.
func (v *viewer) deliver(e entry) error {
	if err := v.sendStatus(e.status); err != nil || e.isStatus {
		return err
	}
	if e.init != nil && e.init != v.lastInit {
		if moved, err := v.chooseOutput(e.init); moved || err != nil {
			return err
		}
		if err := v.queue(websocket.MessageText, e.init.info); err != nil {
			return err
		}
		if err := v.queue(websocket.MessageBinary, e.init.segment); err != nil {
			return err
		}
		v.lastInit = e.init
	}
	typ := websocket.MessageText
	if e.Binary {
		typ = websocket.MessageBinary
	}
	return v.queue(typ, e.Data)
}

// queue adds a message to the viewer's batch, which goes out once it is
// full or the writer has nothing more to gather. data must not change
// until then: it is a published message, shared and immutable, or one of
// the viewer's own.
func (v *viewer) queue(typ websocket.MessageType, data []byte) error {
	if v.batch == nil {
		v.batch = batches.Get().(*frameBatch)
	}
	v.batch.add(typ, data)
	v.sent.bytes += uint64(len(data))
	v.sent.messages++
	return nil
}

// sendNow sends one message at once, after what is queued.
func (v *viewer) sendNow(typ websocket.MessageType, data []byte) error {
	if err := v.queue(typ, data); err != nil {
		return err
	}
	return v.send()
}

// send writes the batch, within the write timeout: a viewer that takes no
// data for that long is dropped.
func (v *viewer) send() error {
	b := v.batch
	if b == nil {
		return nil
	}
	v.batch = nil
	err := v.out.writeBatch(b)
	batches.Put(b)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return errPeerFrozen
		}
		return errPeerGone
	}
	return nil
}

// ping sends a protocol ping unless one is in flight. It runs apart because
// Ping waits for the pong; the read deadline, not Ping's result, decides
// whether the peer is alive.
func (v *viewer) ping(ctx context.Context) {
	if v.pinging.Swap(true) {
		return
	}
	v.wg.Go(func() {
		defer v.pinging.Store(false)
		pctx, cancel := context.WithTimeout(ctx, v.cfg.PongTimeout)
		defer cancel()
		v.conn.Ping(pctx)
	})
}

// flush adds what the viewer delivered since the last flush to its source's
// and the service's totals; batching keeps the hot path free of shared
// atomics.
func (v *viewer) flush() {
	d := counters{v.sent.bytes - v.flushed.bytes, v.sent.messages - v.flushed.messages, v.sent.drops - v.flushed.drops}
	s, m := v.sub.s, &v.hub.metrics
	s.bytes.Add(d.bytes)
	s.messages.Add(d.messages)
	s.drops.Add(d.drops)
	m.bytesSent.Add(d.bytes)
	m.messagesSent.Add(d.messages)
	m.droppedMessages.Add(d.drops)
}

// close ends the connection as err says: with an error message and a close
// frame, bounded by closeGrace, or at once when the peer cannot take one.
func (v *viewer) close(err error) {
	var ce *closeError
	if !errors.As(err, &ce) {
		ce = errPeerGone
	}
	v.hub.metrics.countClose(ce.code)
	if ce == errTooSlow {
		v.hub.metrics.slowClosed.Add(1)
	}
	if ce.abrupt {
		v.conn.CloseNow()
		return
	}
	grace := time.Now().Add(closeGrace)
	v.netConn.SetReadDeadline(grace)
	v.out.closing(grace)
	if ce.notifies() {
		v.sendNow(websocket.MessageText, errorMessage(ce.code, ce.reason))
	}
	v.conn.Close(websocket.StatusCode(ce.code), closeReason(ce.reason))
}
