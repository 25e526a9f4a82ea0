//go:build unix && !darwin

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// autostartPath is the user's XDG autostart entry for decoder, which the
// desktop session starts at login: $XDG_CONFIG_HOME/autostart/decoder.desktop.
func autostartPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory for the autostart entry: %w", err)
	}
	return filepath.Join(dir, "autostart", "decoder.desktop"), nil
}

// enableAutostart writes the autostart entry for exe with args.
func enableAutostart(exe string, args []string) (autostartState, error) {
	path, err := autostartPath()
	if err != nil {
		return autostartState{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return autostartState{}, fmt.Errorf("cannot write the autostart entry: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(xdgAutostartEntry(exe, args)), 0o644); err != nil {
		return autostartState{}, fmt.Errorf("cannot write the autostart entry: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return autostartState{}, fmt.Errorf("cannot write the autostart entry: %w", err)
	}
	return autostartStatus()
}

// disableAutostart removes the autostart entry; where is empty if there
// was none.
func disableAutostart() (autostartState, error) {
	path, err := autostartPath()
	if err != nil {
		return autostartState{}, err
	}
	err = os.Remove(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return autostartState{}, nil
	case err != nil:
		return autostartState{}, fmt.Errorf("cannot remove the autostart entry: %w", err)
	}
	return autostartState{where: path}, nil
}

// autostartStatus reads the autostart entry: on when it exists and is not
// hidden (the specification's way to turn an entry off).
func autostartStatus() (autostartState, error) {
	path, err := autostartPath()
	if err != nil {
		return autostartState{}, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return autostartState{}, nil
	}
	if err != nil {
		return autostartState{}, fmt.Errorf("cannot read the autostart entry: %w", err)
	}
	defer f.Close()
	st := autostartState{on: true, where: path}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, _ := strings.Cut(sc.Text(), "=")
		switch strings.TrimSpace(key) {
		case "Exec":
			st.command = strings.TrimSpace(value)
		case "Hidden":
			st.on = st.on && strings.TrimSpace(value) != "true"
		}
	}
	return st, sc.Err()
}
