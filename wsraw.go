package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Frame opcodes (RFC 6455 §5.2): of the frames decoder writes itself, and
// of those a raw client reads and answers.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// rawHandshakeTimeout bounds dialing, and then the handshake, of
// rawHandshake.
const rawHandshakeTimeout = 10 * time.Second

// rawHandshake opens a connection to target, a ws:// or wss:// URL, and
// performs the client's side of a WebSocket handshake by hand. It exists
// for clients that must misbehave in ways a WebSocket library would not
// let them (never answer a ping, vanish without a close frame, send frames
// of their own making), and for load viewers that must cost less than a
// library's reads (wsReader). header adds fields to the upgrade request (an Origin, say); a
// field it names replaces the request's own, and one it names with no value
// leaves it out. It returns the connection, with no deadline, and the reader
// holding whatever the server sent after its answer; or an error, naming
// the status if the server answered but refused. Cancelling ctx abandons
// the handshake.
func rawHandshake(ctx context.Context, target string, header http.Header) (net.Conn, *bufio.Reader, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, nil, err
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "wss" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	d := net.Dialer{Timeout: rawHandshakeTimeout}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, nil, err
	}
	if u.Scheme == "wss" {
		conn = tls.Client(conn, &tls.Config{ServerName: u.Hostname()})
	}
	conn.SetDeadline(time.Now().Add(rawHandshakeTimeout))
	// A deadline in the past interrupts the exchange at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	br, err := upgrade(conn, u, header)
	if !stop() {
		// Cancelled: whatever the exchange gave, the deadline cut it.
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	conn.SetDeadline(time.Time{})
	return conn, br, nil
}

// tcpOf is the TCP connection beneath a raw connection (TLS or not), for
// socket options; nil if there is none.
func tcpOf(conn net.Conn) *net.TCPConn {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	tcp, _ := conn.(*net.TCPConn)
	return tcp
}

// upgrade sends the upgrade request for u on conn and reads the answer.
func upgrade(conn net.Conn, u *url.URL, header http.Header) (*bufio.Reader, error) {
	if _, err := conn.Write(upgradeRequest(u, header)); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("handshake answered %s", resp.Status)
	}
	return br, nil
}

// upgradeRequest is a GET of u with the fields RFC 6455 requires, a fresh
// random key among them, unless header names them, and header's own.
func upgradeRequest(u *url.URL, header http.Header) []byte {
	key := make([]byte, 16)
	rand.Read(key)
	own := [][2]string{
		{"Host", u.Host},
		{"Upgrade", "websocket"},
		{"Connection", "Upgrade"},
		{"Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key)},
		{"Sec-WebSocket-Version", "13"},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\n", u.RequestURI())
	for _, f := range own {
		if !namesField(header, f[0]) {
			fmt.Fprintf(&b, "%s: %s\r\n", f[0], f[1])
		}
	}
	header.Write(&b)
	b.WriteString("\r\n")
	return []byte(b.String())
}

// namesField reports whether header has a field called name, however
// spelled: a header built as a map literal keeps its keys as written.
func namesField(header http.Header, name string) bool {
	for k := range header {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}
