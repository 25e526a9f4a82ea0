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

// autostartFile is the autostart file's content for exe with args, and
// what it is called in messages.
func autostartFile(exe string, args []string) (content, what string) {
	return xdgAutostartEntry(exe, args), "autostart entry"
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
