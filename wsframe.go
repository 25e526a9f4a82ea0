package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// frameWriter is how a viewer's connection is written: decoder's data
// messages, framed here, and the control frames (ping, pong, close) of
// github.com/coder/websocket, which speaks the rest of the protocol.
//
// coder/websocket writes a message through a buffered writer: one write
// system call for its header and the first bytes of the payload, another
// for the rest, about two for every media message, which at a thousand
// viewers is most of decoder's CPU. A server's data frame is its header
// then its payload, unmasked, the same for every viewer, so frameWriter
// writes one, or several a viewer has waiting, in a single writev, without
// copying the payload.
//
// Whole frames are written under mu, so that coder/websocket's control
// frames, one Write call each (they fit its buffer, which it flushes after
// each frame), never land inside a data frame. Safe for concurrent use.
type frameWriter struct {
	conn net.Conn
	// raw is conn's file descriptor, for writes that must not wait (see
	// tryWrite); nil where decoder has none (TLS, or a platform without
	// them), and then every write is one that waits.
	raw     syscall.RawConn
	timeout time.Duration
	// try is what tryWrite hands raw.Write, made once per connection
	// (a closure made per write would be an allocation per message), with
	// its batch and results in tried; both used with mu held.
	try   func(fd uintptr) bool
	tried struct {
		b   *frameBatch
		n   int
		err error
	}

	mu sync.Mutex
	// deadline is the write deadline set on conn: refreshed before a write
	// that may wait once less than timeout of it is left, so that a write
	// blocked by a viewer that reads nothing fails after between timeout
	// and 1.5 times it, and the socket's deadline timer is reset twice a
	// timeout at most rather than for every message. Writes that do not
	// wait clear it.
	deadline time.Time
	// final is the hard deadline of the close handshake (Unix ns), never
	// extended once set; set without mu, so that it also cuts short a
	// write that holds mu.
	final atomic.Int64
}

// maxFrameHeader is the largest header of a server's frame.
const maxFrameHeader = 10

// refresh sets the write deadline if too little of it is left. mu is held.
func (f *frameWriter) refresh() {
	if f.final.Load() != 0 {
		return
	}
	if now := time.Now(); f.deadline.Sub(now) < f.timeout {
		f.deadline = now.Add(f.timeout * 3 / 2)
		f.conn.SetWriteDeadline(f.deadline)
		// closing may have set its deadline in between: it wins.
		if final := f.final.Load(); final != 0 {
			f.conn.SetWriteDeadline(time.Unix(0, final))
		}
	}
}

// Write takes one of coder/websocket's frames, whole.
func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refresh()
	return f.conn.Write(p)
}

// writeBatch writes the frames of b, waiting within the write deadline,
// and empties b.
func (f *frameWriter) writeBatch(b *frameBatch) error {
	f.mu.Lock()
	return f.writeLocked(b)
}

// writeLocked is writeBatch for a caller that holds mu, which it releases.
// Over TLS the batch is copied into one buffer first: written buffer by
// buffer, each frame header would be a TLS record of its own.
func (f *frameWriter) writeLocked(b *frameBatch) error {
	defer f.mu.Unlock()
	f.refresh()
	var err error
	if _, ok := f.conn.(*tls.Conn); ok {
		buf := joined.Get().(*[]byte)
		for _, p := range b.bufs {
			*buf = append(*buf, p...)
		}
		_, err = f.conn.Write(*buf)
		*buf = (*buf)[:0]
		joined.Put(buf)
	} else {
		_, err = b.bufs.WriteTo(f.conn)
	}
	b.reset()
	return err
}

// joined are the buffers writeLocked copies batches into.
var joined = sync.Pool{New: func() any { return new([]byte) }}

// writeReply writes a reply to the viewer's own message, unless the close
// handshake has begun: no data frame may follow the close frame.
func (f *frameWriter) writeReply(b *frameBatch) error {
	f.mu.Lock()
	if f.final.Load() != 0 {
		f.mu.Unlock()
		b.reset()
		return nil
	}
	return f.writeLocked(b)
}

// tryWrite writes as much of b as the socket takes without waiting, in
// one system call, and reports whether that was all of it; what is left
// stays in b. mu is held.
func (f *frameWriter) tryWrite(b *frameBatch) (all bool, err error) {
	if !f.deadline.IsZero() && f.final.Load() == 0 {
		// An expired deadline would fail this write before it is tried.
		f.deadline = time.Time{}
		f.conn.SetWriteDeadline(f.deadline)
	}
	if f.try == nil {
		f.try = func(fd uintptr) bool {
			f.tried.n, f.tried.err = writevNow(fd, f.tried.b)
			return true
		}
	}
	f.tried.b = b
	err = f.raw.Write(f.try)
	n, errno := f.tried.n, f.tried.err
	f.tried.b, f.tried.err = nil, nil
	if err != nil {
		return false, err
	}
	if errno != nil {
		return false, errno
	}
	b.consume(n)
	return len(b.bufs) == 0, nil
}

// closing gives the rest of the connection's writes a hard deadline: the
// close handshake's. It does not wait for a write in progress, which the
// deadline ends.
func (f *frameWriter) closing(deadline time.Time) {
	f.final.Store(deadline.UnixNano())
	f.conn.SetWriteDeadline(deadline)
}

// frameBatch is data frames ready to go in one writev: each frame's header,
// in headers, and its payload, shared with every other viewer.
type frameBatch struct {
	bufs    net.Buffers
	store   [2 * (maxBatchFrames + maxFramesPerEntry)][]byte
	headers [(maxBatchFrames + maxFramesPerEntry) * maxFrameHeader]byte
	iov     iovecs
	frames  int
	bytes   int
}

// maxFramesPerEntry is the most frames one entry adds to a batch: its
// status, init message and init segment, and itself. A batch that is not
// full takes one more entry.
const maxFramesPerEntry = 4

// A batch holds at most this many frames and about this many payload
// bytes (one more entry may pass the bound): what a viewer has waiting is
// usually a video frame and some audio, which go together; a viewer
// further behind is sent a frame or two at a time, so that a ping waits
// no longer behind them than it used to behind one message.
const (
	maxBatchFrames = 16
	maxBatchBytes  = 16 << 10
)

// batches are reused: a batch lives only while a viewer gathers and writes
// it, so a few serve thousands of viewers.
var batches = sync.Pool{New: func() any {
	b := new(frameBatch)
	b.bufs = b.store[:0]
	return b
}}

// add appends a data frame of typ with payload p.
func (b *frameBatch) add(typ websocket.MessageType, p []byte) {
	opcode := byte(opText)
	if typ == websocket.MessageBinary {
		opcode = opBinary
	}
	b.addFrame(opcode, p)
}

// addFrame appends a frame with opcode and payload p.
func (b *frameBatch) addFrame(opcode byte, p []byte) {
	h := b.headers[b.frames*maxFrameHeader : (b.frames+1)*maxFrameHeader : (b.frames+1)*maxFrameHeader]
	b.bufs = append(b.bufs, appendFrameHeader(h[:0], opcode, len(p)))
	if len(p) > 0 {
		b.bufs = append(b.bufs, p)
	}
	b.frames++
	b.bytes += len(p)
}

// full reports whether the batch should be written before more is added.
func (b *frameBatch) full() bool {
	return b.frames == maxBatchFrames || b.bytes >= maxBatchBytes
}

// reset empties the batch, keeping nothing of what it held.
func (b *frameBatch) reset() {
	clear(b.store[:])
	b.iov = iovecs{}
	b.bufs, b.frames, b.bytes = b.store[:0], 0, 0
}

// consume removes the first n bytes of the batch, which were written.
func (b *frameBatch) consume(n int) {
	for len(b.bufs) > 0 && n >= len(b.bufs[0]) {
		n -= len(b.bufs[0])
		b.bufs = b.bufs[1:]
	}
	if n > 0 {
		b.bufs[0] = b.bufs[0][n:]
	}
}

// appendFrameHeader appends the header of a final, unmasked frame with
// opcode and a payload of n bytes (RFC 6455 §5.2).
func appendFrameHeader(dst []byte, opcode byte, n int) []byte {
	dst = append(dst, 0x80|opcode)
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, 126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
}

// framingWriter hands coder/websocket, at the handshake, buffers of
// decoder's own in place of net/http's: a writer that goes through the
// viewer's frameWriter, and small ones, since all coder/websocket reads is
// a viewer's small messages and all it writes is control frames. net/http
// keeps a 4 KiB reader and writer per connection otherwise.
type framingWriter struct {
	http.ResponseWriter
	out *frameWriter
}

// controlBuffer fits any control frame (125 bytes of payload at most) and
// its header, so that each is one Write.
const (
	controlBuffer = 256
	readBuffer    = 512
)

func (w *framingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The handshake's answer may still be buffered; and so may what the
	// viewer sent after its request.
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	// What the viewer sent after its request must be buffered in the new
	// reader, not behind it: coder/websocket keeps what is buffered and
	// reads the rest from the connection.
	r := bufio.NewReaderSize(conn, readBuffer)
	if pending, _ := brw.Reader.Peek(brw.Reader.Buffered()); len(pending) > 0 {
		r = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(pending)), conn), max(readBuffer, len(pending)))
		r.Peek(len(pending))
	}
	w.out.conn = conn
	w.out.raw = socketOf(conn)
	return conn, bufio.NewReadWriter(r, bufio.NewWriterSize(w.out, controlBuffer)), nil
}
