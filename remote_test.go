//go:build linux

package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// lanAddress gives the test an address that is not a loopback one, on the
// loopback interface: a client bound to it is, to decoder, a viewer on
// another machine, without a second machine. Adding it needs root
// (CAP_NET_ADMIN) and iproute2; the test fails saying so where it cannot.
func lanAddress(t testing.TB) net.IP {
	t.Helper()
	var out []byte
	var err error
	for range 5 {
		ip := net.IPv4(10, 254, byte(rand.IntN(254)+1), byte(rand.IntN(254)+1))
		cidr := ip.String() + "/32"
		if out, err = exec.Command("ip", "addr", "add", cidr, "dev", "lo").CombinedOutput(); err == nil {
			t.Cleanup(func() { exec.Command("ip", "addr", "del", cidr, "dev", "lo").Run() })
			return ip
		}
	}
	t.Fatalf("cannot add an address to the loopback interface to stand for a viewer on another machine (ip addr add: %v: %s): run the tests as root (CAP_NET_ADMIN) with iproute2 installed (apt-get install iproute2)", err, strings.TrimSpace(string(out)))
	return nil
}

// clientFrom is an HTTP client whose connections come from ip, keeping
// cookies as a browser does.
func clientFrom(ip net.IP) *http.Client {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// dialFrom opens /live through client.
func dialFrom(t testing.TB, client *http.Client, u string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	c.SetReadLimit(4 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// startLANServer starts a server on every interface, with a token key.
func startLANServer(t testing.TB, streams []namedConfig) (*testServer, *lockedBuffer) {
	t.Helper()
	return startNamedServer(t, streams, func(c *Config) {
		c.Addr = "0.0.0.0:0"
		if _, err := runTokenRotate(t, c.TokenKey); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRemoteViewer: a viewer from another machine is refused without a
// token and admitted with one, by ?token= or by the cookie decoder's page
// sets, for the streams the token names; the log names its peer, never
// the token.
func TestRemoteViewer(t *testing.T) {
	ip := lanAddress(t)
	ts, logs := startLANServer(t, []namedConfig{{Name: "front-door", URL: "demo://"}, {Name: "garage", URL: "demo://"}})
	_, port, _ := net.SplitHostPort(ts.ln.Addr().String())
	remote := "http://" + net.JoinHostPort(ip.String(), port)
	wsRemote := "ws://" + net.JoinHostPort(ip.String(), port)
	phone := clientFrom(ip)

	for path, want := range map[string]int{"/streams": 401, "/": 401, "/metrics": 401, "/snapshot?src=front-door": 401,
		"/decoder.js": 200, "/codecs.js": 200, "/icon.png": 200, "/version": 200} {
		resp, err := phone.Get(remote + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 401 && !strings.Contains(string(body), "viewer link")) {
			t.Errorf("%s from another machine without a token: %d %.100s, want %d", path, resp.StatusCode, body, want)
		}
	}
	expectCloseFrom(t, phone, wsRemote+"/live?src=front-door", closeUnauthorized, "viewer link")

	tok, _, _ := ts.access.keys.sign([]string{"front-door"}, time.Hour, "phone")
	readUntil(t, dialFrom(t, phone, wsRemote+"/live?src=front-door&token="+tok), "init")
	resp, err := phone.Get(remote + "/?token=" + tok + "&src=front-door")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"decoder_token=" + tok, "Path=/", "HttpOnly", "SameSite=Strict", "Expires="} {
		if resp.StatusCode != 200 || !strings.Contains(cookie, want) {
			t.Errorf("the page with a token: %d, cookie %q lacks %q", resp.StatusCode, cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("the page over http: cookie %q, Referrer-Policy %q; want no Secure, and no referrer", cookie, resp.Header.Get("Referrer-Policy"))
	}
	// From here the phone's requests carry the cookie alone.
	if status, _ := getJSON(t, phone, remote+"/streams", nil); status != 200 {
		t.Errorf("/streams with the cookie: %d, want 200", status)
	}
	readUntil(t, dialFrom(t, phone, wsRemote+"/live?src=front-door"), "init")
	expectCloseFrom(t, phone, wsRemote+"/live?src=garage", closeForbidden, `not for "garage"`)
	if strings.Contains(logs.String(), tok) {
		t.Error("the log holds a token")
	}
	if !strings.Contains(logs.String(), "peer="+ip.String()) {
		t.Errorf("the log does not say which peer used the link:\n%s", logs)
	}
}

// TestRemoteLimits: a viewer on another machine plays named streams only,
// cannot see the configuration or ask for links, and is held to the Host
// check; this machine, on any loopback address, needs no token.
func TestRemoteLimits(t *testing.T) {
	ip := lanAddress(t)
	ts, _ := startLANServer(t, []namedConfig{{Name: "garage", URL: "demo://"}})
	_, port, _ := net.SplitHostPort(ts.ln.Addr().String())
	remote := "http://" + net.JoinHostPort(ip.String(), port)
	phone := clientFrom(ip)
	all, _, _ := ts.access.keys.sign([]string{"*"}, time.Hour, "")
	expectCloseFrom(t, phone, "ws://"+net.JoinHostPort(ip.String(), port)+"/live?url=demo://&token="+all, closeForbidden, "-urls=false")
	bearer := http.Header{"Authorization": {"Bearer " + all}}
	if status, _ := getJSON(t, phone, remote+"/config", bearer); status != 403 {
		t.Errorf("/config from another machine: %d, want 403", status)
	}
	req, _ := http.NewRequest("POST", remote+"/tokens", strings.NewReader(`{"streams":["*"]}`))
	req.Header = bearer.Clone()
	req.Header.Set("Content-Type", "application/json")
	req2, _ := http.NewRequest("GET", remote+"/streams", nil)
	req2.Header, req2.Host = bearer, "rebound.example:"+port
	for _, r := range []*http.Request{req, req2} {
		resp, err := phone.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("%s %s (Host %s) from another machine: %d, want 403", r.Method, r.URL.Path, r.Host, resp.StatusCode)
		}
	}
	// A revoked token's cookie, sent with each of the page's files, counts
	// as no guess.
	u, _ := url.Parse(remote)
	phone.Jar.SetCookies(u, []*http.Cookie{{Name: tokenCookie, Value: "revoked"}})
	for range 2 * failBurst {
		if status, _ := getJSON(t, phone, remote+"/version", nil); status != 200 {
			t.Fatalf("/version with a revoked cookie: %d, want 200", status)
		}
	}
	if status, _ := getJSON(t, phone, remote+"/streams?token="+all, nil); status != 200 {
		t.Errorf("a valid token after the page's files came with a revoked cookie: %d, want 200", status)
	}
	for _, local := range []string{"127.0.0.1", "127.0.0.2"} {
		c := clientFrom(net.ParseIP(local))
		if status, _ := getJSON(t, c, "http://"+net.JoinHostPort(local, port)+"/streams", nil); status != 200 {
			t.Errorf("/streams from %s without a token: %d, want 200", local, status)
		}
		readUntil(t, dialFrom(t, c, "ws://"+net.JoinHostPort(local, port)+"/live?src=garage"), "init")
	}
}

// expectCloseFrom is expectClose through client.
func expectCloseFrom(t testing.TB, client *http.Client, u string, code int, want string) {
	t.Helper()
	ce, msgs := readClose(t, dialFrom(t, client, u), 5*time.Second)
	if int(ce.Code) != code || !strings.Contains(ce.Reason, want) || len(msgs) == 0 || msgs[len(msgs)-1].Type != "error" {
		t.Errorf("%s: closed %d %q after %+v, want %d and %q after an error message", u, ce.Code, ce.Reason, msgs, code, want)
	}
}

// TestRemoteStartRefused: decoder will not listen beyond loopback without
// a token key unless -insecure-no-auth says so, and then warns.
func TestRemoteStartRefused(t *testing.T) {
	key := filepath.Join(t.TempDir(), "token.key")
	cfg := Config{Addr: "0.0.0.0:0", Live: testLiveConfig(), AccessConfig: AccessConfig{TokenKey: key}}
	_, err := NewServer(cfg, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "without a token key") || !strings.Contains(err.Error(), "decoder token -stream") {
		t.Errorf("NewServer on 0.0.0.0 without a key: %v, want a refusal that says what to do", err)
	}

	port := freePort(t)
	cmd := exec.Command(decoderBinary(t), "-addr", "0.0.0.0:"+port, "-headless")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "without a token key") {
		t.Errorf("decoder -addr 0.0.0.0 without a key: %v, %s; want exit 1 and why", err, out)
	}

	p := startDecoder(t, nil, "-addr", "0.0.0.0:"+port, "-headless", "-insecure-no-auth")
	waitFor(t, 5*time.Second, "the warning", func() bool { return strings.Contains(p.stderr.String(), "-insecure-no-auth: anyone who can reach") })
}
