//go:build !windows

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// On Linux and macOS a file makes decoder start at login: an XDG
// autostart entry, a LaunchAgent. autostartPath and autostartFile say
// which and what it holds; autostartStatus reads it back.

// enableAutostart writes the autostart file for exe with args. A
// LaunchAgent is not loaded now: decoder is running already, and launchd
// reads it at the next login.
func enableAutostart(exe string, args []string) (autostartState, error) {
	path, err := autostartPath()
	if err != nil {
		return autostartState{}, err
	}
	content, what := autostartFile(exe, args)
	if err := writeFileAtomic(path, []byte(content), 0o755, 0o644); err != nil {
		return autostartState{}, fmt.Errorf("cannot write the %s: %w", what, err)
	}
	return autostartStatus()
}

// disableAutostart removes the autostart file; where is empty if there was
// none. A running decoder goes on: only the next login is affected.
func disableAutostart() (autostartState, error) {
	path, err := autostartPath()
	if err != nil {
		return autostartState{}, err
	}
	return removeAutostartFile(path)
}

// removeAutostartFile removes the file that makes decoder start at login
// (an XDG entry or a LaunchAgent); where is empty if there was none.
func removeAutostartFile(path string) (autostartState, error) {
	err := os.Remove(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return autostartState{}, nil
	case err != nil:
		return autostartState{}, fmt.Errorf("cannot remove %s: %w", path, err)
	}
	return autostartState{where: path}, nil
}
