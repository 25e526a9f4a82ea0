package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// autostartPath is decoder's LaunchAgent, which launchd starts at login:
// ~/Library/LaunchAgents/app.decoder.desktop.plist.
func autostartPath() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for the LaunchAgent: %w", err)
	}
	return filepath.Join(home, "Library", "LaunchAgents", bundleID+".plist"), nil
}

// enableAutostart writes the LaunchAgent for exe with args. It is not
// loaded now: decoder is running already, and launchd reads the agent at
// the next login.
func enableAutostart(exe string, args []string) (autostartState, error) {
	path, err := autostartPath()
	if err != nil {
		return autostartState{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return autostartState{}, fmt.Errorf("cannot write the LaunchAgent: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(launchAgentPlist(exe, args)), 0o644); err != nil {
		return autostartState{}, fmt.Errorf("cannot write the LaunchAgent: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return autostartState{}, fmt.Errorf("cannot write the LaunchAgent: %w", err)
	}
	return autostartStatus()
}

// disableAutostart removes the LaunchAgent; where is empty if there was
// none. The running decoder goes on: only the next login is affected.
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
		return autostartState{}, fmt.Errorf("cannot remove the LaunchAgent: %w", err)
	}
	return autostartState{where: path}, nil
}

// autostartStatus reads the LaunchAgent and what it starts.
func autostartStatus() (autostartState, error) {
	path, err := autostartPath()
	if err != nil {
		return autostartState{}, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return autostartState{}, nil
	}
	if err != nil {
		return autostartState{}, fmt.Errorf("cannot read the LaunchAgent: %w", err)
	}
	dict, err := readPlistDict(data)
	if err != nil {
		return autostartState{}, fmt.Errorf("cannot read the LaunchAgent %s: %w", path, err)
	}
	argv, _ := dict["ProgramArguments"].([]any)
	words := make([]string, 0, len(argv))
	for _, a := range argv {
		words = append(words, fmt.Sprint(a))
	}
	return autostartState{on: true, where: path, command: strings.Join(words, " ")}, nil
}
