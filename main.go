// Command decoder is a desktop service that plays live sources, such as RTSP
// cameras, in web pages. A page opens ws://127.0.0.1:3000/live?url=… and
// decoder pulls the source once, whatever the number of viewers, and pushes
// it to every viewer in real time. It shows a tray icon where the desktop
// has one and runs headless elsewhere.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	attachConsole()
	ctx, stop := signalContext()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintf(os.Stderr, "decoder: %v\n", err)
		os.Exit(1)
	}
}

// signalContext is cancelled by the first SIGINT or SIGTERM; a second one
// exits at once, for when a graceful stop takes too long for the user.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-signals:
			cancel()
		case <-done:
			return
		}
		select {
		case <-signals:
			fmt.Fprintln(os.Stderr, "decoder: second signal, exiting at once")
			os.Exit(1)
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(signals)
			close(done)
			cancel()
		})
	}
}

// run starts decoder and serves until ctx is done, the tray's Quit is
// picked, decoder -replace asks it to stop, or serving fails; then it stops
// gracefully. When another decoder has the port, it shows that one and
// returns nil.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	if len(args) > 0 && args[0] == "load" {
		return runLoad(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "autostart" {
		return runAutostart(args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "forget" {
		return runForget(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "token" {
		return runToken(args[1:], getenv, stdout, stderr)
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.ShowVersion {
		fmt.Fprintln(stdout, versionLine())
		return nil
	}
	log, logPath, closeLog := startLog(stderr)
	defer func() { closeLog(err) }()

	srv, err := NewServer(cfg, log)
	if err != nil {
		return err
	}
	if started, err := startSingle(ctx, srv, cfg, stdout); !started || err != nil {
		return err
	}
	defer srv.recordInstance(log)()
	defer onHangup(srv.Reload)()
	fmt.Fprintf(stdout, "decoder %s listening on %s\n", Version, srv.URL())

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if cfg.Pprof != "" {
		if err := startPprof(ctx, cfg.Pprof, log); err != nil {
			srv.Shutdown(context.Background())
			return err
		}
	}
	go func() {
		select {
		case err := <-srv.Failed():
			cancel(fmt.Errorf("failed to serve: %w", err))
		case <-srv.StopRequested():
			cancel(nil)
		case <-ctx.Done():
		}
	}()

	if ok, why := trayAvailable(); cfg.Headless || !ok {
		if !cfg.Headless {
			log.Info("running headless: " + why)
		}
		<-ctx.Done()
	} else {
		// The tray returns when ctx is done or the user picks Quit.
		runTray(ctx, trayDeps{pageURL: srv.URL(), hub: srv.hub, logPath: logPath, args: args, log: log})
	}
	cancel(nil)

	log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer scancel()
	err = srv.Shutdown(sctx)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		err = errors.Join(cause, err)
	}
	if err == nil {
		log.Info("stopped")
	}
	return err
}
