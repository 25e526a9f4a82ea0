package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestFirstMessageWithHandshake: a viewer whose first message arrives in
// the same packet as its handshake (net/http has read it already) is
// answered, not misread.
func TestFirstMessageWithHandshake(t *testing.T) {
	ts := startTestServer(t, nil)
	base := snapshot()
	u, _ := url.Parse(ts.liveURL("demo-text://?interval=1s"))
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", u.RequestURI(), u.Host)
	c.Write(append([]byte(req), maskedFrame(0x1, []byte(`{"type":"ping","id":99}`))...))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	for {
		hdr := make([]byte, 2)
		if _, err := br.Read(hdr[:1]); err != nil {
			t.Fatalf("no pong: %v", err)
		}
		br.Read(hdr[1:])
		n := int(hdr[1] & 0x7f)
		if n == 126 {
			b, _ := br.Peek(2)
			n = int(b[0])<<8 | int(b[1])
			br.Discard(2)
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			t.Fatal(err)
		}
		if hdr[0]&0x0f == 0x8 {
			t.Fatalf("closed: % x", payload)
		}
		if bytes.Contains(payload, []byte(`"type":"pong","id":99`)) {
			break
		}
	}
	c.Close()
	ts.expectDrained(t, base)
}

// TestFrameHeaders: the data frames decoder writes are the ones RFC 6455
// describes, for every length form, and read back by coder/websocket.
func TestFrameHeaders(t *testing.T) {
	for _, tc := range []struct {
		opcode byte
		n      int
		want   []byte
	}{
		{opText, 0, []byte{0x81, 0}},
		{opText, 125, []byte{0x81, 125}},
		{opBinary, 126, []byte{0x82, 126, 0, 126}},
		{opBinary, 65535, []byte{0x82, 126, 0xff, 0xff}},
		{opBinary, 65536, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		if got := appendFrameHeader(nil, tc.opcode, tc.n); !bytes.Equal(got, tc.want) {
			t.Errorf("opcode %x, %d bytes: header % x, want % x", tc.opcode, tc.n, got, tc.want)
		}
	}
}
