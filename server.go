package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server is decoder's HTTP service: the API, /live and the built-in page.
// Start binds before returning; Shutdown is idempotent.
type Server struct {
	cfg       Config
	log       *slog.Logger
	hub       *Hub
	sessions  *sessions
	snapshots *snapshotHandler
	names     *namedStreams
	access    *accessPolicy
	reloader  *configReloader
	tls       *tls.Config // nil without -tls-cert
	stopWatch func()
	http      *http.Server
	handler   http.Handler
	ln        net.Listener
	serveErr  chan error
	// proxies says who a request comes from, behind a reverse proxy.
	proxies proxyPolicy
	// stopToken authorises POST /shutdown (decoder -replace), which sends
	// on stopRequests.
	stopToken    string
	stopRequests chan struct{}
}

// NewServer checks cfg and assembles the service without binding.
func NewServer(cfg Config, log *slog.Logger) (*Server, error) {
	origins := newOriginPolicy(cfg.AllowedOrigins)
	if len(origins.invalid) > 0 {
		return nil, fmt.Errorf("invalid -allowed-origins %q: want scheme://host[:port] (host may start with *., port may be *), null or *", strings.Join(origins.invalid, ","))
	}
	s := &Server{cfg: cfg, log: log, hub: NewHub(cfg.Live, log), sessions: newSessions(), serveErr: make(chan error, 1),
		stopToken: newToken(), stopRequests: make(chan struct{}, 1)}
	s.names = newNamedStreams(s.hub, cfg.Live.Sources, cfg.Streams, log)
	var err error
	if s.proxies, err = parseTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	access, err := newAccessPolicy(cfg, s.names, s.proxies, log)
	if err != nil {
		return nil, err
	}
	if s.tls, err = loadTLS(cfg.AccessConfig); err != nil {
		return nil, err
	}
	s.access, s.reloader = access, newConfigReloader(cfg, s.names, access.keys, log)
	s.snapshots = &snapshotHandler{cfg: cfg.Live, hub: s.hub, origins: origins, log: log, access: access}
	page, err := newIndexPage()
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("/{$}", allowMethods(page.ServeHTTP, http.MethodGet))
	mux.Handle("/version", allowMethods(handleVersion, http.MethodGet))
	mux.Handle("/live", allowMethods((&liveHandler{cfg: cfg.Live, hub: s.hub, origins: origins, proxies: s.proxies, log: log, sessions: s.sessions, access: access}).ServeHTTP, http.MethodGet))
	mux.Handle("/snapshot", allowMethods(s.snapshots.ServeHTTP, http.MethodGet))
	mux.Handle("/streams", allowMethods(handleStreams(s.hub, access), http.MethodGet))
	mux.Handle("/config", allowMethods(s.handleConfig, http.MethodGet))
	mux.Handle("/tokens", allowMethods(s.handleTokens, http.MethodPost))
	mux.Handle("/metrics", allowMethods(handleMetrics(s.hub), http.MethodGet))
	mux.Handle("/shutdown", allowMethods(s.handleShutdown, http.MethodPost))
	mux.Handle("/", allowMethods(serveAsset, http.MethodGet))
	s.handler = withHostCheck(cfg.AllowedHosts)(withCORS(origins)(access.middleware(mux)))

	s.http = &http.Server{
		Handler: s.handler,
		// A client that dribbles its headers must not hold a connection and
		// a goroutine forever (slowloris); 10 s is plenty on any network.
		ReadHeaderTimeout: 10 * time.Second,
		// API answers are small; /live clears these after the upgrade.
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  60 * time.Second,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, netConnKey{}, c)
		},
	}
	return s, nil
}

// Handler returns the service's handler, for tests.
func (s *Server) Handler() http.Handler { return s.handler }

// Start binds the listening socket and serves in the background.
func (s *Server) Start() error {
	lc := net.ListenConfig{
		// Keepalive finds peers that vanished while idle, even when no
		// application data is due.
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3},
	}
	ln, err := lc.Listen(context.Background(), "tcp", s.cfg.Addr)
	if err != nil {
		_, port, _ := net.SplitHostPort(s.cfg.Addr)
		switch {
		case errors.Is(err, syscall.EADDRINUSE):
			return &portInUseError{port: port}
		case errors.Is(err, syscall.EACCES):
			return fmt.Errorf("not allowed to listen on %s; choose a port above 1023 with PORT or -addr", s.cfg.Addr)
		case errors.Is(err, syscall.EADDRNOTAVAIL):
			return fmt.Errorf("cannot listen on %s: no such address on this machine; check -addr", s.cfg.Addr)
		}
		return fmt.Errorf("failed to listen on %s: %w", s.cfg.Addr, err)
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	s.ln = ln
	s.stopWatch = sync.OnceFunc(s.reloader.watch())
	go func() {
		err := s.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.serveErr <- err
	}()
	return nil
}

// URL is the address of decoder's page.
func (s *Server) URL() string {
	addr := s.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return s.scheme() + "://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// scheme is how decoder is reached: https with -tls-cert.
func (s *Server) scheme() string {
	if s.tls != nil {
		return "https"
	}
	return "http"
}

// Reload reads the config file again and applies its streams (SIGHUP).
func (s *Server) Reload() error { return s.reloader.reload() }

// Failed delivers an error if serving stops by itself.
func (s *Server) Failed() <-chan error { return s.serveErr }

// httpGrace is how long API requests still in progress at shutdown may
// take once viewers and sources have stopped; connections that never sent
// a request, or only part of one, are not waited for at all.
const httpGrace = 500 * time.Millisecond

// Shutdown stops accepting, and at once closes every viewer with 1001 and
// stops the producers, while net/http finishes the requests in progress;
// it waits for all of it until ctx is done. Connections without a request
// in progress (a browser's pre-connect, a client that sent half a request)
// are closed rather than waited for: http.Server.Shutdown would wait up to
// 5 s for each.
func (s *Server) Shutdown(ctx context.Context) error {
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Shutdown(ctx) }()
	if s.stopWatch != nil {
		s.stopWatch()
	}
	errViewers := s.sessions.shutdown(ctx)
	errHub := s.hub.Close(ctx)
	s.snapshots.wait()
	grace := time.NewTimer(httpGrace)
	defer grace.Stop()
	var errHTTP error
	select {
	case errHTTP = <-httpDone:
	case <-grace.C:
		s.http.Close()
		<-httpDone
	}
	if errHTTP != nil {
		s.http.Close()
		errHTTP = fmt.Errorf("failed to finish HTTP requests: %w", errHTTP)
	}
	return errors.Join(errHTTP, errViewers, errHub)
}
