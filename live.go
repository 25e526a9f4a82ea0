package main

import (
	"context"
	"crypto/tls"
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

// liveHandler serves GET /live?url=…: one WebSocket connection is one viewer
// of a shared source.
type liveHandler struct {
	cfg      LiveConfig
	hub      *Hub
	origins  originPolicy
	proxies  proxyPolicy
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
	v := &viewer{cfg: h.cfg, netConn: netConn, hub: h.hub,
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
	rawQuery, peer := r.URL.RawQuery, h.proxies.describe(r)
	ctx, stop := g.session(h.sessions.ctx)
	go func() {
		defer h.sessions.leave()
		defer stop()
		v.serve(ctx, rawQuery, peer, h.log)
	}()
}

// viewer is one /live connection.
//
// Its session's goroutine reads: the viewer's messages, answered at once,
// and its pongs. What the viewer is sent, its stream's fan-out writes,
// for every viewer in turn, with writes that never wait (fanout.go); a
// viewer whose socket takes less than it is sent gets a goroutine of its
// own until it has caught up (catchUp), which may wait within the write
// timeout. Where writes cannot be tried without waiting, that goroutine
// writes for the viewer's whole life.
//
// The reader and the writers share ctx: whichever fails first cancels it
// with the reason, and finish turns that reason into the close the
// viewer gets.
type viewer struct {
	cfg     LiveConfig
	hub     *Hub
	conn    *websocket.Conn
	netConn net.Conn
	out     *frameWriter
	ctx     context.Context
	fail    context.CancelCauseFunc
	// src is the source the viewer asked for, and spec what its browser
	// plays, when it said (codecs=, height=).
	src       source
	spec      outputSpec
	specGiven bool
	grant     grant // what the viewer may play
	// wg counts the catch-up goroutines; finished is closed once finish
	// has closed the connection.
	wg       sync.WaitGroup
	finished chan struct{}
	// replied counts the replies to the viewer's own messages, which its
	// reader writes.
	replied counters

	// serving is held by whoever writes the viewer's stream: its fan-out
	// for a moment, its catch-up goroutine, or finish. It guards the rest.
	serving sync.Mutex
	done    bool
	sub     *subscription
	// fan is the sender the viewer is a member of, nil when none.
	fan *sender
	// fanIndex is the viewer's place in fan.viewers, guarded by fan.mu.
	fanIndex int
	// converted is set once it has moved to an output made for its
	// browser.
	converted bool
	// batch holds the frames gathered for the next write, nil between
	// writes; partial says that a write left some of it, to be finished
	// by catchUp, which inherits out.mu held for it.
	batch       *frameBatch
	partial     bool
	lastStatus  *frame
	lastInit    *mediaInit
	behindSince time.Time
	lastDrop    time.Time
	lag         time.Duration
	nextPing    time.Time
	nextStats   time.Time
	sent        counters
	flushed     counters
}

// counters are what a viewer delivered.
type counters struct{ bytes, messages, drops uint64 }

// serve runs the session and returns when all its goroutines have ended.
//
// Its log lines name the peer and the source in place rather than through
// a logger of its own (slog.With), which would cost every viewer memory
// for lines that are seldom written.
func (v *viewer) serve(parent context.Context, rawQuery, peer string, log *slog.Logger) {
	nc := v.netConn
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if tc, ok := nc.(*net.TCPConn); ok && v.cfg.SendBuffer > 0 {
		tc.SetWriteBuffer(v.cfg.SendBuffer)
	}
	// http.Server's deadlines stay on a hijacked connection; the session
	// sets its own.
	v.netConn.SetDeadline(time.Time{})
	v.conn.SetReadLimit(v.cfg.MaxMessageBytes)

	// "The reader, the writer and the producer share one context" is
	// realised in three parts. The reader and the writers share ctx, the
	// session's: whichever fails first cancels it with its reason, and
	// finish turns that reason into the close the viewer gets. The shared
	// producer outlives any one viewer, so it cannot hold their contexts;
	// its end reaches every session through the end of its ring
	// (readResult.end), which the writers return like any other failure.
	// A viewer's failure ends only its own subscription: the producer goes
	// on for the others and stops -linger after the last one leaves.
	// parent, the service's, ends every session at shutdown.
	v.ctx, v.fail = context.WithCancelCause(parent)
	defer v.fail(nil)
	v.finished = make(chan struct{})
	context.AfterFunc(v.ctx, v.finish)

	now := time.Now()
	v.nextPing = now.Add(v.cfg.PingInterval/2 + rand.N(v.cfg.PingInterval/2+1))
	v.nextStats = now.Add(v.cfg.StatsInterval)
	sub, err := v.subscribe(rawQuery)
	// The peer's silence is counted from here, when reading begins.
	v.heard()
	if err != nil {
		v.fail(err)
	} else {
		log.Debug("viewer joined", "peer", peer, "source", sub.s.display)
		v.start(sub)
	}
	v.fail(v.readLoop())
	<-v.finished
	v.wg.Wait()
	if v.sub != nil {
		v.flush()
		v.sub.Close()
		log.Debug("viewer left", "peer", peer, "source", v.sub.s.display, "reason", context.Cause(v.ctx))
	}
}

// start makes sub the viewer's and starts sending: a catch-up goroutine
// sends what the viewer begins with, and then hands it to the fan-out.
func (v *viewer) start(sub *subscription) {
	v.serving.Lock()
	if v.done {
		v.serving.Unlock()
		sub.Close()
		return
	}
	v.sub = sub
	v.join(sub.s.fan)
	v.wg.Go(v.catchUp)
}

// join makes the viewer a member of f, if writes to it can be made without
// waiting and f is still running. serving is held.
func (v *viewer) join(f *fanout) {
	if v.fan != nil {
		v.fan.remove(v)
		v.fan = nil
	}
	if v.out.raw != nil {
		v.fan = f.add(v)
	}
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
	v.join(sub.s.fan)
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

// readLoop reads the viewer's messages, and answers them, until the
// connection fails or finish closes it; pongs are handled inside Read and
// reach heard.
func (v *viewer) readLoop() error {
	for {
		// No context: cancelling one would drop the connection before
		// finish could send its close frame. The read deadline bounds it.
		typ, data, err := v.conn.Read(context.Background())
		if err != nil {
			return readError(err)
		}
		v.heard()
		if typ != websocket.MessageText {
			return errNotText
		}
		reply, err := parseClientMessage(data, time.Now())
		if err != nil {
			return err
		}
		if err := v.reply(reply); err != nil {
			return err
		}
	}
}

// reply writes a reply to one of the viewer's messages, within the write
// timeout, between the frames its writers send.
func (v *viewer) reply(data []byte) error {
	b := batches.Get().(*frameBatch)
	b.add(websocket.MessageText, data)
	err := v.out.writeReply(b)
	batches.Put(b)
	if err != nil {
		return sendError(err)
	}
	atomic.AddUint64(&v.replied.bytes, uint64(len(data)))
	atomic.AddUint64(&v.replied.messages, 1)
	v.hub.metrics.bytesSent.Add(uint64(len(data)))
	v.hub.metrics.messagesSent.Add(1)
	return nil
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
