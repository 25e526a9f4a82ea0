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

// autostartFile is the autostart file's content for exe with args, and
// what it is called in messages.
func autostartFile(exe string, args []string) (content, what string) {
	return launchAgentPlist(exe, args), "LaunchAgent"
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
