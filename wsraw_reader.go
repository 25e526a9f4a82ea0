package main

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// loadReadBuffer is how much a load viewer reads from its socket at a
// time: a whole 2 Mbit/s video message and its frame header in one read
// system call, where a 4 KiB buffer makes two or three. At thousands of
// viewers on one core, the reads are most of what the load generator
// costs, and a load generator that falls behind measures itself.
const loadReadBuffer = 64 << 10

// loadWriteTimeout bounds a load viewer's writes: its pongs and its close.
const loadWriteTimeout = 5 * time.Second

// wsReader is the client side of a WebSocket connection as much as a load
// viewer needs: it reads a server's messages, answers pings, and answers a
// close. Lighter than a WebSocket library, whose reads go through a 4 KiB
// buffer and a context each; it reads a connection rawHandshake opened.
// One goroutine uses it.
type wsReader struct {
	conn net.Conn
	br   *bufio.Reader
	head [14]byte
	msg  []byte // the message being read, reused
}

// newWSReader reads conn, whose bytes already read are buffered in br.
func newWSReader(conn net.Conn, br *bufio.Reader) *wsReader {
	return &wsReader{conn: conn, br: bufio.NewReaderSize(br, loadReadBuffer)}
}

// serverClose is a close frame the server sent, with its code.
type serverClose struct{ code int }

func (e serverClose) Error() string { return "closed by the server with " + strconv.Itoa(e.code) }

// next reads the next data message: whether it is binary, and its bytes,
// valid until the next call. A close from the server ends with a
// serverClose; pings are answered on the way.
func (r *wsReader) next() (isBinary bool, data []byte, err error) {
	r.msg = r.msg[:0]
	first := byte(0)
	for {
		fin, op, payload, err := r.frame()
		if err != nil {
			return false, nil, err
		}
		switch {
		case op == opPing:
			if err := r.send(opPong, payload); err != nil {
				return false, nil, err
			}
		case op == opPong:
		case op == opClose:
			code := 1005
			if len(payload) >= 2 {
				code = int(binary.BigEndian.Uint16(payload))
			}
			r.send(opClose, payload[:min(2, len(payload))])
			return false, nil, serverClose{code}
		case op == opText || op == opBinary || (op == opContinuation && first != 0):
			if first == 0 {
				first = op
			}
			// frame read the payload in place, just after the message.
			r.msg = r.msg[:len(r.msg)+len(payload)]
			if fin {
				return first == opBinary, r.msg, nil
			}
		default:
			return false, nil, fmt.Errorf("unexpected frame, opcode %d", op)
		}
	}
}

// frame reads one frame, its payload into the room just after r.msg: a
// data frame's there extends the message (next takes it in), a control
// frame's (at most 125 bytes) is valid until the next call.
func (r *wsReader) frame() (fin bool, op byte, payload []byte, err error) {
	h := r.head[:2]
	if _, err := io.ReadFull(r.br, h); err != nil {
		return false, 0, nil, err
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0f
	if h[1]&0x80 != 0 {
		return false, 0, nil, errors.New("the server masked a frame")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(r.br, r.head[2:4]); err != nil {
			return false, 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(r.head[2:4]))
	case 127:
		if _, err := io.ReadFull(r.br, r.head[2:10]); err != nil {
			return false, 0, nil, err
		}
		n = binary.BigEndian.Uint64(r.head[2:10])
	}
	if n > 16<<20 {
		return false, 0, nil, fmt.Errorf("a frame of %d bytes", n)
	}
	start := len(r.msg)
	r.msg = append(r.msg, make([]byte, n)...)
	payload = r.msg[start:]
	r.msg = r.msg[:start]
	_, err = io.ReadFull(r.br, payload)
	return fin, op, payload, err
}

// send writes a masked frame, as a client must.
func (r *wsReader) send(op byte, payload []byte) error {
	b := make([]byte, 0, 6+len(payload))
	b = append(b, 0x80|op, 0x80|byte(len(payload)))
	var key [4]byte
	rand.Read(key[:])
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	r.conn.SetWriteDeadline(time.Now().Add(loadWriteTimeout))
	_, err := r.conn.Write(b)
	return err
}
