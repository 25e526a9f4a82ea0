package main

import (
	"crypto/tls"
	"fmt"
)

// loadTLS reads -tls-cert and -tls-key, for https and wss on decoder's own
// port; nil without them. HTTP/2 is not offered: /live takes over its
// connection, which HTTP/1.1 allows and HTTP/2 does not, and browsers then
// open their WebSocket over HTTP/1.1 as they do without TLS.
func loadTLS(ac AccessConfig) (*tls.Config, error) {
	if ac.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(ac.TLSCert, ac.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("cannot serve TLS with -tls-cert %s and -tls-key %s: %w", ac.TLSCert, ac.TLSKey, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}, nil
}
