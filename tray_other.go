//go:build !linux

package main

// trayAvailable reports whether a tray can be shown: always, on desktops
// whose tray needs no separate bus.
func trayAvailable() (bool, string) { return true, "" }

// presetTray does nothing here: systray's setters need its loop running.
func presetTray(icon []byte, title, tooltip string) {}
