package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// One decoder per user and port: a second start finds the first through
// its /version and shows it instead of failing, and decoder -replace asks
// it to stop and takes its place. The request to stop carries a token that
// the running decoder wrote to a file only its user can read, so that
// neither a web page nor another user can stop it.

// tokenHeader carries the stop token of POST /shutdown.
const tokenHeader = "X-Decoder-Token"

// Bounds of the exchange with a decoder already on the port: how long it
// may take to answer, and how long it may take to let go of the port once
// it agreed to stop (its graceful stop, at most -shutdown-timeout, closes
// the port first).
const (
	probeTimeout  = 2 * time.Second
	handOverLimit = 10 * time.Second
)

// instanceInfo is what a running decoder records for its port in the
// user's runtime directory: enough for decoder -replace to ask it to stop.
type instanceInfo struct {
	PID     int    `json:"pid"`
	URL     string `json:"url"`
	Version string `json:"version"`
	Token   string `json:"token"`
}

// newToken returns a random secret for the stop request.
func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// instanceDir is the user's runtime directory for decoder: in
// $XDG_RUNTIME_DIR where the system has one (private to the user, emptied
// at logout), else in the user's cache directory.
func instanceDir() (string, error) {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "decoder"), nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no runtime or cache directory to record decoder in: %w", err)
	}
	return filepath.Join(dir, "decoder", "run"), nil
}

// instancePath is the record of the decoder on port.
func instancePath(port string) (string, error) {
	dir, err := instanceDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "instance-"+port+".json"), nil
}

// recordInstance writes info for port, readable by the user only, and
// returns a function that removes it again unless another decoder has
// replaced it in the meantime.
func recordInstance(port string, info instanceInfo) (remove func(), err error) {
	path, err := instancePath(port)
	if err != nil {
		return func() {}, err
	}
	data, _ := json.Marshal(info)
	if err := writeFileAtomic(path, data, 0o700, 0o600); err != nil {
		return func() {}, fmt.Errorf("cannot record decoder for -replace: %w", err)
	}
	return func() {
		if got, err := readInstance(path); err == nil && got.Token == info.Token {
			os.Remove(path)
		}
	}, nil
}

func readInstance(path string) (instanceInfo, error) {
	var info instanceInfo
	data, err := os.ReadFile(path)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil || info.Token == "" {
		return info, fmt.Errorf("%s is not a decoder instance record", path)
	}
	return info, nil
}

// handleShutdown is POST /shutdown, decoder -replace's request to stop.
// Only a client on this machine that is not a browser and that knows the
// token may stop decoder: browsers send Origin (or Sec-Fetch-Mode) with
// every POST, and only the user who started decoder can read the token.
func (s *Server) handleShutdown(w http.ResponseWriter, r *http.Request) {
	switch {
	case !s.proxies.local(r):
		writeError(w, http.StatusForbidden, "decoder can be stopped from this machine only")
	case r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Mode") != "":
		writeError(w, http.StatusForbidden, "web pages cannot stop decoder")
	case subtle.ConstantTimeCompare([]byte(r.Header.Get(tokenHeader)), []byte(s.stopToken)) != 1:
		writeError(w, http.StatusForbidden, "wrong or missing %s: only decoder -replace, run by the user who started decoder, can stop it", tokenHeader)
	default:
		s.log.Info("asked to stop by decoder -replace")
		writeData(w, http.StatusOK, "stopping")
		select {
		case s.stopRequests <- struct{}{}:
		default: // already asked
		}
	}
}

// StopRequested delivers a value when decoder -replace asked this decoder
// to stop.
func (s *Server) StopRequested() <-chan struct{} { return s.stopRequests }

// probeBase is the address to reach whatever listens on addr from this
// machine: an unspecified host (0.0.0.0, ::) is reached on loopback, over
// TLS when decoder serves it.
func probeBase(addr string, tls bool) string {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, port)
}

// probeClient talks to a decoder on this machine: bounded, without
// keep-alives, so that no connection outlives the exchange.
func probeClient() *http.Client {
	return &http.Client{
		Timeout: probeTimeout,
		// A decoder's certificate is often its own, made for its LAN
		// address; what answers here is on this machine, as plain HTTP
		// would be.
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		// A decoder never redirects /version or /shutdown.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// probeDecoder asks base for /version and returns the version if what
// answers is decoder: status 200 and decoder's envelope around a string.
func probeDecoder(ctx context.Context, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/version", nil)
	if err != nil {
		return "", err
	}
	resp, err := probeClient().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var env envelope
	err = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&env)
	version, ok := env.Data.(string)
	if err != nil || resp.StatusCode != http.StatusOK || env.Code != http.StatusOK || env.Message != "OK" || !ok || version == "" {
		return "", errors.New("its /version is not decoder's")
	}
	return version, nil
}

// askToStop sends the running decoder on port, at base, the request to
// stop, with the token from its record.
func askToStop(ctx context.Context, base, port string) error {
	path, err := instancePath(port)
	if err != nil {
		return err
	}
	info, err := readInstance(path)
	if err != nil {
		return fmt.Errorf("cannot ask the decoder at %s to stop: it left no record that this user can read (%v); quit it from its tray or stop its process", base, err)
	}
	return requestStop(ctx, base, info)
}

// requestStop sends POST /shutdown with the token of info to base.
func requestStop(ctx context.Context, base string, info instanceInfo) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/shutdown", nil)
	if err != nil {
		return err
	}
	req.Header.Set(tokenHeader, info.Token)
	resp, err := probeClient().Do(req)
	if err != nil {
		return fmt.Errorf("cannot ask the decoder at %s to stop: %w", base, err)
	}
	defer resp.Body.Close()
	var env envelope
	json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&env)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the decoder at %s refused to stop (%d: %s); quit it from its tray or stop process %d", base, resp.StatusCode, env.Message, info.PID)
	}
	return nil
}

// startSingle binds srv. When its port is taken it finds out by what: by
// another decoder, it shows that one (opening its page where there is a
// desktop, else printing its address) and returns started false with no
// error, or, with -replace, asks it to stop and binds in its place; by
// another program, it returns an error that says so and names the program
// where the system tells.
func startSingle(ctx context.Context, srv *Server, cfg Config, stdout io.Writer) (started bool, err error) {
	err = srv.Start()
	var inUse *portInUseError
	if !errors.As(err, &inUse) {
		return err == nil, err
	}
	base := probeBase(cfg.Addr, cfg.TLSCert != "")
	version, probeErr := probeDecoder(ctx, base)
	if probeErr != nil {
		owner := portOwner(inUse.port)
		if owner != "" {
			owner = " (" + owner + ")"
		}
		return false, fmt.Errorf("port %s is in use by another program%s, not decoder; stop it, or set PORT or -addr to use another port", inUse.port, owner)
	}
	if !cfg.Replace {
		showRunning(stdout, version, base)
		return false, nil
	}
	if err := askToStop(ctx, base, inUse.port); err != nil {
		return false, err
	}
	return true, startWhenFree(ctx, srv, base)
}

// startWhenFree binds srv as soon as the decoder that agreed to stop has
// let go of the port.
func startWhenFree(ctx context.Context, srv *Server, base string) error {
	deadline := time.Now().Add(handOverLimit)
	for {
		err := srv.Start()
		var inUse *portInUseError
		if !errors.As(err, &inUse) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the decoder at %s agreed to stop but still holds port %s after %v", base, inUse.port, handOverLimit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// showRunning points the user to the decoder already running: its page in
// the browser where there is a desktop, its address otherwise.
func showRunning(stdout io.Writer, version, base string) {
	msg := fmt.Sprintf("decoder %s is already running at %s", version, base)
	if !hasDesktop() {
		fmt.Fprintf(stdout, "%s; open that address in a browser\n", msg)
		return
	}
	if err := openBrowser(base + "/"); err != nil {
		fmt.Fprintf(stdout, "%s; open that address in a browser (%v)\n", msg, err)
		return
	}
	fmt.Fprintf(stdout, "%s; opened it in the browser\n", msg)
}

// portInUseError is Start's error when the port is taken.
type portInUseError struct{ port string }

func (e *portInUseError) Error() string {
	return "port " + e.port + " is already in use; set PORT or -addr"
}

// recordInstance records the started server for decoder -replace, and
// returns the function that removes the record. Without a record decoder
// still serves; only -replace cannot stop it, which the log says.
func (s *Server) recordInstance(log *slog.Logger) (remove func()) {
	port := fmt.Sprint(s.ln.Addr().(*net.TCPAddr).Port)
	remove, err := recordInstance(port, instanceInfo{PID: os.Getpid(), URL: s.URL(), Version: Version, Token: s.stopToken})
	if err != nil {
		log.Warn("decoder -replace will not be able to stop this decoder", "err", err)
	}
	return remove
}
