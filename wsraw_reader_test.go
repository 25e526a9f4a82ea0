package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestWSReader feeds wsReader frames a server could send, over a real TCP
// connection: a fragmented message comes back whole, a ping is answered
// with a masked pong of the same payload, a close ends reading with its
// code and is answered, and a masked or oversized frame is an error.
func TestWSReader(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pair := func() (client *wsReader, server net.Conn) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); s.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		s.SetDeadline(time.Now().Add(10 * time.Second))
		return newWSReader(c, bufio.NewReader(c)), s
	}

	r, s := pair()
	big := bytes.Repeat([]byte("x"), 70000)
	var frames []byte
	frames = append(frames, 0x02, 3, 'a', 'b', 'c') // binary, not final
	frames = append(frames, 0x89, 2, 'h', 'i')      // ping between fragments
	frames = append(frames, 0x80, 2, 'd', 'e')      // final continuation
	frames = append(appendFrameHeader(frames, opText, len(big)), big...)
	frames = append(frames, 0x88, 4, 0x0f, 0xa0, 'b', 'y') // close 4000
	go s.Write(frames)

	if bin, data, err := r.next(); err != nil || !bin || string(data) != "abcde" {
		t.Errorf("fragmented message = %v %q %v, want binary abcde", bin, data, err)
	}
	pong := make([]byte, 8)
	if _, err := io.ReadFull(s, pong); err != nil {
		t.Fatal(err)
	}
	if pong[0] != 0x8a || pong[1] != 0x82 || pong[6]^pong[2] != 'h' || pong[7]^pong[3] != 'i' {
		t.Errorf("pong frame % x, want a masked pong of \"hi\"", pong)
	}
	if bin, data, err := r.next(); err != nil || bin || !bytes.Equal(data, big) {
		t.Errorf("70000-byte text message: binary %v, %d bytes, %v", bin, len(data), err)
	}
	_, _, err = r.next()
	if closeCodeOf(err) != "4000" {
		t.Errorf("close ended reading with %v (%s), want 4000", err, closeCodeOf(err))
	}
	answer := make([]byte, 8)
	if _, err := io.ReadFull(s, answer); err != nil || answer[0] != 0x88 || answer[1] != 0x82 {
		t.Errorf("close answered with % x (%v), want a masked close with the code", answer, err)
	}

	for _, tt := range []struct {
		name  string
		frame []byte
	}{
		{"masked", []byte{0x82, 0x81, 1, 2, 3, 4, 5}},
		{"too large", []byte{0x82, 127, 0, 0, 0, 0, 0x10, 0, 0, 0}},
		{"continuation first", []byte{0x80, 1, 'x'}},
	} {
		r, s := pair()
		go s.Write(tt.frame)
		var sc serverClose
		if _, _, err := r.next(); err == nil || errors.As(err, &sc) {
			t.Errorf("%s frame: %v, want an error", tt.name, err)
		}
	}
	r, s = pair()
	s.Close()
	if _, _, err := r.next(); closeCodeOf(err) != "abrupt" {
		t.Errorf("connection dropped: %v, want abrupt", err)
	}
}
