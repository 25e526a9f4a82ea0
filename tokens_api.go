package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/skip2/go-qrcode"
)

// Viewer links: a token, and the address of decoder's page with it, that a
// phone on the same network opens (or scans, as a QR code) to watch. The
// dashboard asks for them (POST /tokens, from this machine only), and so
// does decoder token.

// tokenRequest is the body of POST /tokens.
type tokenRequest struct {
	Streams []string `json:"streams"`
	TTL     string   `json:"ttl"`
	Name    string   `json:"name"`
}

// viewerLink is a token with its link, as POST /tokens answers it.
type viewerLink struct {
	Token     string `json:"token"`
	URL       string `json:"url"`
	QR        string `json:"qr"` // the URL as a QR code, a data: URL of a PNG
	ExpiresAt string `json:"expires_at"`
	// Warning says why a phone could not open the link yet.
	Warning string `json:"warning,omitempty"`
}

// Bounds of POST /tokens: its body, and a link's life when it does not say.
const (
	maxTokenRequest = 4096
	defaultLinkTTL  = "24h"
)

// handleTokens is POST /tokens: a viewer link for streams, from this
// machine's own dashboard (or a program on this machine) only.
func (s *Server) handleTokens(w http.ResponseWriter, r *http.Request) {
	if localRequestOnly(w, r, "viewer links are given") {
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send the request as JSON (Content-Type: application/json)")
		return
	}
	var req tokenRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxTokenRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `the body must be JSON such as {"streams":["front-door"],"ttl":"24h","name":"phone"}: %v`, err)
		return
	}
	if req.TTL == "" {
		req.TTL = defaultLinkTTL
	}
	ttl, err := parseTTL(req.TTL, maxLinkTTL)
	if err == nil {
		err = checkLinkRequest(req.Streams, req.Name, s.names.names())
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	base, warning := lanBase(s.ln.Addr().String(), s.scheme())
	link, err := makeViewerLink(s.access.keys, base, req.Streams, s.names.names(), ttl, req.Name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	link.Warning = warning
	s.log.Info("viewer link given", "name", req.Name, "streams", strings.Join(req.Streams, ","), "expires", link.ExpiresAt)
	writeData(w, http.StatusOK, link)
}

// checkLinkRequest checks the streams a link is asked for, among those
// configured, and the name it is given.
func checkLinkRequest(streams []string, name string, configured []string) error {
	if len(streams) == 0 {
		return errors.New(`name the streams the link is for ("streams":["front-door"]), or "*" for all`)
	}
	for _, st := range streams {
		if st != allStreams && !slices.Contains(configured, st) {
			return fmt.Errorf("decoder has no stream named %q in its configuration (it has %s)", st, orNone(configured))
		}
	}
	if len([]rune(name)) > 64 || strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return errors.New("name: at most 64 printable characters, such as phone or kitchen tablet")
	}
	return nil
}

// orNone lists names, or says there are none.
func orNone(names []string) string {
	if len(names) == 0 {
		return "none: add streams: to its config file"
	}
	return strings.Join(names, ", ")
}

// makeViewerLink signs a token for streams and makes the link to decoder's
// page at base with it: the page plays the streams named, every
// configured stream for "*", in a wall that fits them.
func makeViewerLink(keys *tokenKeys, base string, streams, configured []string, ttl time.Duration, name string) (viewerLink, error) {
	tok, exp, err := keys.sign(streams, ttl, name)
	if err != nil {
		return viewerLink{}, err
	}
	play := streams
	if slices.Contains(streams, allStreams) {
		play = configured
	}
	q := "token=" + url.QueryEscape(tok)
	for _, st := range play {
		q += "&src=" + url.QueryEscape(st)
	}
	if n := len(play); n > 1 {
		q += "&wall=" + strconv.Itoa(wallFor(n))
	}
	link := viewerLink{Token: tok, URL: base + "/?" + q, ExpiresAt: exp.UTC().Format(time.RFC3339)}
	png, err := qrcode.Encode(link.URL, qrcode.Medium, 320)
	if err != nil {
		return viewerLink{}, fmt.Errorf("cannot draw the link's QR code: %w", err)
	}
	link.QR = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
	return link, nil
}

// wallFor is the dashboard's wall that shows n streams, 16 at most.
func wallFor(n int) int {
	for _, w := range []int{4, 9} {
		if n <= w {
			return w
		}
	}
	return 16
}

// lanBase is the address a phone on the same network opens decoder at,
// when decoder listens at listen (host:port), and why it cannot yet, if
// it cannot.
func lanBase(listen, scheme string) (base, warning string) {
	host, port, _ := net.SplitHostPort(listen)
	ip := net.ParseIP(host)
	switch {
	case ip != nil && !ip.IsLoopback() && !ip.IsUnspecified():
		// Listening on one address of the LAN: that one.
	case ip != nil && ip.IsUnspecified():
		host = lanIP()
	default:
		host = lanIP()
		warning = "decoder listens on " + listen + ", this machine only: phones cannot open this link until it listens on the LAN (start it with -addr 0.0.0.0)"
	}
	if host == "" {
		host = "127.0.0.1"
		warning = "this machine has no network address a phone could reach: connect it to the LAN"
	}
	return scheme + "://" + net.JoinHostPort(host, port), warning
}

// lanIP is this machine's address on its LAN: a private IPv4 address of
// an interface that is up, else any other global one; "" if it has none.
func lanIP() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	var other string
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || !n.IP.IsGlobalUnicast() {
				continue
			}
			if n.IP.To4() != nil && n.IP.IsPrivate() {
				return n.IP.String()
			}
			if other == "" || (n.IP.To4() != nil && strings.Contains(other, ":")) {
				other = n.IP.String()
			}
		}
	}
	return other
}
