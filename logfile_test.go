package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRotatingLogFile: the log is moved aside before it passes its bound,
// keeps that many old files and no more, never cuts a line, and appends to
// what an earlier run left.
func TestRotatingLogFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	path := filepath.Join(dir, "decoder.log")
	const max = 100
	f, err := openRotatingFile(path, max, 2)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("log directory: %v, %v; want mode 0700", st.Mode(), err)
	}
	line := func(i int) string { return fmt.Sprintf("line %03d %s\n", i, strings.Repeat("x", 20)) } // 30 bytes
	for i := range 20 {
		if _, err := f.Write([]byte(line(i))); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if _, err := f.Write([]byte("late\n")); err == nil {
		t.Error("a write after Close succeeded")
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	want := []string{"decoder.1.log", "decoder.2.log", "decoder.log"}
	if len(names) != len(want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	// 3 lines a file: the newest 2 in decoder.log, 3 and 3 in the kept.
	for i, name := range want {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		if len(data) > max {
			t.Errorf("%s has %d bytes, over the bound of %d", name, len(data), max)
		}
		first := map[int]int{0: 15, 1: 12, 2: 18}[i]
		if !strings.HasPrefix(string(data), line(first)) || len(data)%30 != 0 {
			t.Errorf("%s = %q, want whole lines from line %d", name, data, first)
		}
	}

	f, err = openRotatingFile(path, max, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write([]byte(strings.Repeat("y", 3*max) + "\n"))
	data, _ := os.ReadFile(path)
	if len(data) != 3*max+1 {
		t.Errorf("a line longer than the bound was cut or mixed: %d bytes", len(data))
	}
	if kept, _ := os.ReadFile(filepath.Join(dir, "decoder.1.log")); !strings.HasPrefix(string(kept), line(18)) {
		t.Errorf("reopening did not append to the earlier run's log: %q", kept)
	}
}

// TestLogGoesWhereThePlatformKeepsIt: where the platform names no log file
// (Linux), the log stays on stderr, which a terminal or the journal keeps.
func TestLogGoesWhereThePlatformKeepsIt(t *testing.T) {
	if logFilePath() != "" {
		t.Skip("this platform logs to " + logFilePath())
	}
	w, path, warning, closeLog := openLog(os.Stderr)
	defer closeLog()
	if w != os.Stderr || path != "" || warning != "" {
		t.Errorf("openLog = %v, %q, %q; want stderr alone", w, path, warning)
	}
}
