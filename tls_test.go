package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// testCertificate makes a self-signed certificate for 127.0.0.1 and
// localhost, writes it and its key as PEM files, and returns them with a
// pool that trusts it.
func testCertificate(t testing.TB) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "decoder test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLS: with -tls-cert and -tls-key decoder serves https and wss on
// its port, over HTTP/1.1, with the token cookie Secure; plain HTTP there
// is refused.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := testCertificate(t)
	ts, _ := startNamedServer(t, []namedConfig{{Name: "cam", URL: "demo://"}}, func(c *Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	if !strings.HasPrefix(ts.base, "https://") || !strings.HasPrefix(ts.ws, "wss://") {
		t.Fatalf("serving at %s and %s, want https and wss", ts.base, ts.ws)
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, DisableKeepAlives: true}}
	resp, err := client.Get(ts.base + "/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 1 {
		t.Errorf("https /version: %d over %s, want 200 over HTTP/1.1", resp.StatusCode, resp.Proto)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, ts.ws+"/live?src=cam", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	c.SetReadLimit(4 << 20)
	defer c.CloseNow()
	rec, err := recordMedia(ctx, c, nil, 25)
	if err != nil || len(rec.inits) != 1 {
		t.Fatalf("wss viewer: %v, %d inits", err, len(rec.inits))
	}
	if p := probeRecording(t, rec); p.videoFrames != 25 || p.videoCodec != "h264" {
		t.Errorf("what the wss viewer got decodes as %+v, want 25 h264 frames", p)
	}

	tok, _, _ := ts.access.keys.sign([]string{"cam"}, time.Hour, "")
	resp, err = client.Get(ts.base + "/?token=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cookie := resp.Header.Get("Set-Cookie"); !strings.Contains(cookie, "Secure") {
		t.Errorf("the cookie over https is not Secure: %q", cookie)
	}

	resp, err = plainClient().Get("http" + strings.TrimPrefix(ts.base, "https") + "/version")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "HTTPS") {
		t.Errorf("plain HTTP on the TLS port: %d %s, want 400", resp.StatusCode, body)
	}
}

// TestTLSConfig: the certificate and key go together and must load; a
// second decoder finds the first over TLS.
func TestTLSConfig(t *testing.T) {
	certFile, keyFile, _ := testCertificate(t)
	if _, err := parseConfig([]string{"-tls-cert", certFile}, noEnv, io.Discard); err == nil || !strings.Contains(err.Error(), "go together") {
		t.Errorf("-tls-cert alone: %v", err)
	}
	cfg := Config{Addr: "127.0.0.1:0", Live: testLiveConfig(), AccessConfig: AccessConfig{TLSCert: keyFile, TLSKey: certFile}}
	if _, err := NewServer(cfg, testLogger(t)); err == nil || !strings.Contains(err.Error(), "cannot serve TLS") {
		t.Errorf("certificate and key swapped: %v", err)
	}

	port := freePort(t)
	first := startDecoder(t, []string{"PORT=" + port}, "-headless", "-tls-cert", certFile, "-tls-key", keyFile)
	if want := "https://127.0.0.1:" + port; first.url != want {
		t.Errorf("listening on %s, want %s", first.url, want)
	}
	second := exec.Command(decoderBinary(t), "-headless", "-tls-cert", certFile, "-tls-key", keyFile)
	second.Env = []string{"PATH=" + os.Getenv("PATH"), "PORT=" + port, "HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir()}
	out, err := second.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "is already running at https://127.0.0.1:"+port) {
		t.Errorf("a second decoder on the TLS port: %v, %s; want it to find the first", err, out)
	}
}
