//go:build cgo

package main

import "fyne.io/systray"

// trayBuildNote is what decoder -h says of this build's tray: nothing, as
// a macOS build with cgo has its menu-bar icon.
const trayBuildNote = ""

// trayAvailable reports whether a tray can be shown: always, since the
// menu bar needs no separate bus.
func trayAvailable() (bool, string) { return true, "" }

// presetTray does nothing here: systray's setters need its loop running.
func presetTray(title, tooltip string) {}

// setTrayIcon shows decoder's icon as a template image, which macOS tints
// to suit a light or a dark menu bar.
func setTrayIcon() { systray.SetTemplateIcon(iconTemplatePNG(), iconPNG()) }
