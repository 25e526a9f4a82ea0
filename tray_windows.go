package main

import "fyne.io/systray"

// trayBuildNote is what decoder -h says of this build's tray: nothing, as
// every Windows build has one.
const trayBuildNote = ""

// trayAvailable reports whether a tray can be shown: always, since the
// notification area needs no separate bus.
func trayAvailable() (bool, string) { return true, "" }

// presetTray does nothing here: systray's setters need its loop running.
func presetTray(title, tooltip string) {}

// setTrayIcon shows decoder's icon: the notification area takes an ICO,
// from which Windows picks the size for the screen's scaling.
func setTrayIcon() { systray.SetIcon(iconICO()) }
