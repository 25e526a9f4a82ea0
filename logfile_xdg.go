//go:build !windows && !darwin

package main

// logFilePath is empty here: decoder logs to stderr, which a terminal
// shows, and the journal keeps when systemd or the desktop session starts
// it.
func logFilePath() string { return "" }
