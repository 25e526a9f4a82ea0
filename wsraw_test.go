package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRawHandshake upgrades to a real /live by hand, and is refused as a
// library client would be.
func TestRawHandshake(t *testing.T) {
	ts := startTestServer(t, nil)
	base := snapshot()
	target := ts.liveURL("demo-text://?interval=20ms")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, header := range []http.Header{nil, {"Origin": {"http://localhost:5173"}}} {
		conn, br, err := rawHandshake(ctx, target, header)
		if err != nil {
			t.Fatalf("header %v: %v", header, err)
		}
		// The first frame: final, text or binary, unmasked from a server.
		b, err := br.Peek(2)
		if err != nil || b[0]&0x80 == 0 || (b[0]&0x0f != 1 && b[0]&0x0f != 2) || b[1]&0x80 != 0 {
			t.Errorf("header %v: first frame starts %x, %v", header, b, err)
		}
		conn.Close()
	}
	for _, tt := range []struct {
		header http.Header
		status string
	}{
		{http.Header{"Origin": {"https://evil.example"}}, "403"},
		{http.Header{"Sec-WebSocket-Version": {"99"}}, "426"},
		{http.Header{"Sec-WebSocket-Key": nil}, "400"},
	} {
		conn, _, err := rawHandshake(ctx, target, tt.header)
		if err == nil {
			conn.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tt.status) {
			t.Errorf("header %v: got %v, want an error naming %s", tt.header, err, tt.status)
		}
	}
	ts.expectDrained(t, base)
}

// TestRawHandshakeCancelled gives up on a server that never answers when
// its context ends, not at its own timeout.
func TestRawHandshakeCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	conn, _, err := rawHandshake(ctx, "ws://"+ln.Addr().String()+"/live", nil)
	if err == nil {
		conn.Close()
	}
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > rawHandshakeTimeout/2 {
		t.Errorf("got %v after %v, want the context's deadline", err, time.Since(start))
	}
}
