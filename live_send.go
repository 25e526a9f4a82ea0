package main

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// errWouldBlock is a fan-out's write that the viewer's socket did not take
// whole: the viewer's catch-up goroutine finishes it.
var errWouldBlock = errors.New("the socket takes no more for now")

// serveNow sends the viewer what it has waiting, as its fan-out's sender
// at now, unless someone else is sending to it. What the socket does not
// take at once is left to a catch-up goroutine, which inherits serving.
func (v *viewer) serveNow(now time.Time) {
	if !v.serving.TryLock() {
		return
	}
	if v.done {
		v.serving.Unlock()
		return
	}
	err := v.step(now)
	if err == errWouldBlock {
		v.wg.Go(v.catchUp)
		return
	}
	if err != nil {
		v.fail(err)
	}
	v.serving.Unlock()
}

// step gathers and writes, without waiting, until the viewer has everything
// or its socket is full. serving is held.
func (v *viewer) step(now time.Time) error {
	v.timed(now)
	for {
		wake, err := v.gather(now)
		if ferr := v.sendFast(); ferr != nil {
			return ferr
		}
		if err != nil || wake != nil {
			return err
		}
	}
}

// catchUp sends the viewer what its fan-out could not, waiting within the
// write timeout, until it has everything and the fan-out can have it back;
// or, when the fan-out cannot, for as long as the session lasts. It runs
// holding serving, and out.mu too when a write was left partial.
func (v *viewer) catchUp() {
	defer v.serving.Unlock()
	if v.partial {
		v.partial = false
		err := v.out.writeLocked(v.batch)
		batches.Put(v.batch)
		v.batch = nil
		if err != nil {
			v.fail(sendError(err))
			return
		}
	}
	var timer *time.Timer
	for v.ctx.Err() == nil {
		now := time.Now()
		v.timed(now)
		wake, err := v.gather(now)
		if ferr := v.send(); ferr != nil {
			v.fail(ferr)
			return
		}
		if err != nil {
			v.fail(err)
			return
		}
		if wake == nil {
			continue
		}
		if v.fan != nil {
			// Back to the fan-out, which may have passed the viewer by
			// while it was here.
			v.fan.kick()
			return
		}
		if timer == nil {
			timer = time.NewTimer(time.Until(earlier(v.nextPing, v.nextStats)))
			defer timer.Stop()
		} else {
			timer.Reset(time.Until(earlier(v.nextPing, v.nextStats)))
		}
		select {
		case <-v.ctx.Done():
		case <-wake:
		case <-timer.C:
		}
	}
}

// timed queues a ping and the viewer's stats when they are due. A ping is
// not waited for: the read deadline, which every frame from the viewer
// pushes forward, decides whether it is alive.
func (v *viewer) timed(now time.Time) {
	if !now.Before(v.nextPing) {
		v.queueFrame(opPing, nil)
		v.nextPing = now.Add(v.cfg.PingInterval)
	}
	if !now.Before(v.nextStats) {
		v.nextStats = now.Add(v.cfg.StatsInterval)
		replies, repliesBytes := atomic.LoadUint64(&v.replied.messages), atomic.LoadUint64(&v.replied.bytes)
		v.queue(websocket.MessageText, statsMessage(viewerStats{v.sent.bytes + repliesBytes, v.sent.messages + replies, v.sent.drops, v.lag}))
		v.flush()
	}
}

// earlier is the earlier of a and b.
func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// gather reads what the viewer is to be sent into its batch, until it has
// read everything, when it returns the channel the next publish closes,
// or the batch is full, when it returns none: there may be more.
func (v *viewer) gather(now time.Time) (wake <-chan struct{}, err error) {
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
			v.lag = now.Sub(res.entry.at)
		} else {
			if res.end != nil {
				return nil, res.end
			}
			v.lag = 0
		}
		if v.fellBehind(res, now) {
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
func (v *viewer) fellBehind(res readResult, now time.Time) bool {
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
	v.queue(websocket.MessageText, f.data)
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
		v.queue(websocket.MessageText, e.init.info)
		v.queue(websocket.MessageBinary, e.init.segment)
		v.lastInit = e.init
	}
	typ := websocket.MessageText
	if e.Binary {
		typ = websocket.MessageBinary
	}
	v.queue(typ, e.Data)
	return nil
}

// queue adds a message to the viewer's batch, which goes out once it is
// full or there is nothing more to gather. data must not change until
// then: it is a published message, shared and immutable, or one of the
// viewer's own.
func (v *viewer) queue(typ websocket.MessageType, data []byte) error {
	v.batch = v.batchOf()
	v.batch.add(typ, data)
	v.sent.bytes += uint64(len(data))
	v.sent.messages++
	return nil
}

// queueFrame adds a control frame to the viewer's batch.
func (v *viewer) queueFrame(opcode byte, payload []byte) {
	v.batch = v.batchOf()
	v.batch.addFrame(opcode, payload)
}

// batchOf is the viewer's batch, taken from the pool if it has none.
func (v *viewer) batchOf() *frameBatch {
	if v.batch != nil {
		return v.batch
	}
	return batches.Get().(*frameBatch)
}

// sendNow sends one message at once, after what is queued.
func (v *viewer) sendNow(typ websocket.MessageType, data []byte) error {
	v.queue(typ, data)
	return v.send()
}

// send writes the batch, waiting within the write timeout: a viewer that
// takes no data for that long is dropped.
func (v *viewer) send() error {
	b := v.batch
	if b == nil {
		return nil
	}
	v.batch = nil
	err := v.out.writeBatch(b)
	batches.Put(b)
	return sendError(err)
}

// sendFast writes the batch as far as the socket takes it without waiting.
// If it does not take all, out.mu stays held for the rest, which catchUp
// writes: no other frame may come between.
func (v *viewer) sendFast() error {
	b := v.batch
	if b == nil {
		return nil
	}
	if v.fan == nil || !v.out.mu.TryLock() {
		return errWouldBlock
	}
	all, err := v.out.tryWrite(b)
	switch {
	case err != nil:
		v.out.mu.Unlock()
		v.batch = nil
		b.reset()
		batches.Put(b)
		return sendError(err)
	case !all:
		v.partial = true
		return errWouldBlock
	}
	v.out.mu.Unlock()
	v.batch = nil
	b.reset()
	batches.Put(b)
	return nil
}

// sendError maps a failed write to the reason the session ends.
func sendError(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errPeerFrozen
	}
	return errPeerGone
}

// flush adds what the viewer delivered since the last flush to its source's
// and the service's totals; batching keeps the hot path free of shared
// atomics.
func (v *viewer) flush() {
	d := counters{v.sent.bytes - v.flushed.bytes, v.sent.messages - v.flushed.messages, v.sent.drops - v.flushed.drops}
	v.flushed = v.sent
	s, m := v.sub.s, &v.hub.metrics
	s.bytes.Add(d.bytes)
	s.messages.Add(d.messages)
	s.drops.Add(d.drops)
	m.bytesSent.Add(d.bytes)
	m.messagesSent.Add(d.messages)
	m.droppedMessages.Add(d.drops)
}

// finish ends the session once ctx is done, whoever ended it: it stops the
// viewer's writers, takes it out of its fan-out and closes the connection
// as the reason says. It runs on a goroutine of its own (AfterFunc), so
// that the reader, which may wait in Read, need not be woken to do it.
func (v *viewer) finish() {
	defer close(v.finished)
	// A writer waiting on a socket that takes nothing gives up by then.
	v.out.closing(time.Now().Add(closeGrace))
	v.serving.Lock()
	defer v.serving.Unlock()
	v.done = true
	if v.fan != nil {
		v.fan.remove(v)
		v.fan = nil
	}
	v.close(context.Cause(v.ctx))
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
