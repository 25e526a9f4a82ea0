package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// The log file's bounds: it is moved aside when a write would take it past
// logFileMax, and logFileKeep moved-aside files are kept (decoder.1.log the
// newest), so the log never takes more than (logFileKeep+1)*logFileMax.
const (
	logFileMax  = 1 << 20
	logFileKeep = 2
)

// rotatingFile is a log file bounded in size: it appends to path, and when
// a write would take it past max, it moves path to the first kept name,
// each kept file to the next, drops the oldest, and starts path afresh.
// Safe for concurrent use.
type rotatingFile struct {
	path string
	max  int64
	keep int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// openRotatingFile opens path for appending, creating it and its directory
// (readable by the user only: a log names the cameras) when missing.
func openRotatingFile(path string, max int64, keep int) (*rotatingFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the log's directory: %w", err)
	}
	r := &rotatingFile{path: path, max: max, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open the log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("cannot open the log file: %w", err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

// keptName is the name of the n-th moved-aside file: decoder.n.log.
func (r *rotatingFile) keptName(n int) string {
	ext := filepath.Ext(r.path)
	return fmt.Sprintf("%s.%d%s", strings.TrimSuffix(r.path, ext), n, ext)
}

// Write appends p, moving the file aside first if p would take it past
// max. A single write larger than max still goes in whole, into a fresh
// file, so that no log line is cut.
func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, os.ErrClosed
	}
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotate closes the file (Windows cannot rename an open one), shifts the
// kept files by one and opens a new, empty file.
func (r *rotatingFile) rotate() error {
	r.f.Close()
	r.f = nil
	os.Remove(r.keptName(r.keep))
	for n := r.keep - 1; n >= 1; n-- {
		os.Rename(r.keptName(n), r.keptName(n+1))
	}
	if r.keep > 0 {
		os.Rename(r.path, r.keptName(1))
	} else {
		os.Remove(r.path)
	}
	return r.open()
}

// Close closes the file; later writes fail.
func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// teeLog writes the log to its file and, best effort, to the console: a
// GUI program's stderr may go nowhere, and that must not stop the file.
type teeLog struct {
	file    io.Writer
	console io.Writer
}

func (t teeLog) Write(p []byte) (int, error) {
	n, err := t.file.Write(p)
	t.console.Write(p)
	return n, err
}

// openLog returns where decoder's log goes: on systems whose desktop
// programs have no console to read (Windows, macOS), to the log file that
// the tray's "Open log" shows, as well as to stderr; elsewhere to stderr
// alone, which a terminal or the service manager's journal keeps. path is
// the log file's, or empty; close closes it. If the file cannot be
// opened, the log goes to stderr and warning says why.
func openLog(stderr io.Writer) (w io.Writer, path string, warning string, close func()) {
	path = logFilePath()
	if path == "" {
		return stderr, "", "", func() {}
	}
	f, err := openRotatingFile(path, logFileMax, logFileKeep)
	if err != nil {
		return stderr, "", fmt.Sprintf("logging to stderr only: %v", err), func() {}
	}
	return teeLog{file: f, console: stderr}, path, "", func() { f.Close() }
}

// startLog starts decoder's log (see openLog) and returns it, the log
// file's path if there is one, and the function that ends it with the
// error decoder stops with: where the log is a file, nobody may see
// stderr, so the file says why decoder stopped.
func startLog(stderr io.Writer) (log *slog.Logger, path string, end func(error)) {
	w, path, warning, closeFile := openLog(stderr)
	log = slog.New(slog.NewTextHandler(w, nil))
	if warning != "" {
		log.Warn(warning)
	}
	return log, path, func(err error) {
		if err != nil && path != "" {
			log.Error("decoder stopped", "err", err)
		}
		closeFile()
	}
}
