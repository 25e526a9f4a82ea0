//go:build unix && !darwin

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
	addr, why := sessionBusAddress()
	if addr == "" {
		return false, why
	}
	conn, err := dbus.Connect(addr)
	if err != nil {
		return false, "D-Bus session bus unusable: " + err.Error()
	}
	conn.Close()
	return true, ""
}

// sessionBusAddress is the D-Bus session bus's address: the one the session
// announces, else the conventional socket in the runtime directory; if
// there is neither, it is empty and why says so.
func sessionBusAddress() (addr, why string) {
	if addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" {
		return addr, ""
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		return "", "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR are unset)"
	}
	sock := filepath.Join(dir, "bus")
	if _, err := os.Stat(sock); err != nil {
		return "", "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and " + sock + " is missing)"
	}
	return "unix:path=" + sock, ""
}

// trayBuildNote is what decoder -h says of this build's tray: nothing, as
// every build for these systems has one.
const trayBuildNote = ""

// presetTray hands systray the item's icon, title and tooltip before
// systray.Run exports the item: fyne.io/systray v1.12.2 runs onReady
// concurrently with the export and silently drops what onReady sets while
// the export is under way.
func presetTray(title, tooltip string) {
	setTrayIcon()
	systray.SetTitle(title)
	systray.SetTooltip(tooltip)
}

// setTrayIcon shows decoder's icon as a PNG, which the StatusNotifierItem
// host gets as pixels.
func setTrayIcon() { systray.SetIcon(iconPNG()) }
