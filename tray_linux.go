package main

import (
	"os"
	"path/filepath"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"
)

// trayAvailable reports whether a D-Bus session bus answers, which the tray
// needs on Linux, and if not, why. It never starts a bus itself.
func trayAvailable() (bool, string) {
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" {
		dir := os.Getenv("XDG_RUNTIME_DIR")
		if dir == "" {
			return false, "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR are unset)"
		}
		sock := filepath.Join(dir, "bus")
		if _, err := os.Stat(sock); err != nil {
			return false, "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and " + sock + " is missing)"
		}
		addr = "unix:path=" + sock
	}
	conn, err := dbus.Connect(addr)
	if err != nil {
		return false, "D-Bus session bus unusable: " + err.Error()
	}
	conn.Close()
	return true, ""
}

// presetTray hands systray the item's icon, title and tooltip before
// systray.Run exports the item: fyne.io/systray v1.12.2 runs onReady
// concurrently with the export and silently drops what onReady sets while
// the export is under way.
func presetTray(icon []byte, title, tooltip string) {
	systray.SetIcon(icon)
	systray.SetTitle(title)
	systray.SetTooltip(tooltip)
}
