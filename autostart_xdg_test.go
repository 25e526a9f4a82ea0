//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// autostartCmd runs decoder autostart with the user's configuration
// directory at config.
func autostartCmd(t *testing.T, config string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(decoderBinary(t), append([]string{"autostart"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + config, "XDG_CONFIG_HOME=" + config}
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

// TestAutostartCommand drives decoder autostart on Linux for real: on
// writes the XDG autostart entry with the binary's absolute path and the
// flags, quoted so that the desktop's own parser (GLib's) reads them back
// and desktop-file-validate accepts the entry; status says so; off removes
// exactly that file.
func TestAutostartCommand(t *testing.T) {
	config := t.TempDir()
	entry := filepath.Join(config, "autostart", "decoder.desktop")
	if out, code := autostartCmd(t, config, "status"); code != 0 || out != "off: decoder does not start at login\n" {
		t.Errorf("status before: %q (exit %d)", out, code)
	}
	clips := filepath.Join(config, `clips $1 "100%"`)
	if err := os.Mkdir(clips, 0o755); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-addr", "127.0.0.1:4123", "-media-dir", clips}
	out, code := autostartCmd(t, config, append([]string{"on"}, flags...)...)
	want := append([]string{decoderBinary(t)}, flags...)
	if code != 0 || out != "on: "+entry+" starts "+desktopExecLine(want)+"\n" {
		t.Errorf("on: %q (exit %d)", out, code)
	}
	data, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != xdgAutostartEntry(want[0], want[1:]) {
		t.Errorf("the entry is\n%s", data)
	}
	if got := glibArgv(t, entry); !slices.Equal(got, want) {
		t.Errorf("GLib reads the entry's Exec as %q, want %q", got, want)
	}
	validateDesktopEntry(t, entry)
	if out, code := autostartCmd(t, config, "status"); code != 0 || !strings.HasPrefix(out, "on: "+entry+" starts ") {
		t.Errorf("status when on: %q (exit %d)", out, code)
	}

	if out, code := autostartCmd(t, config, "off"); code != 0 || out != "decoder no longer starts at login: removed "+entry+"\n" {
		t.Errorf("off: %q (exit %d)", out, code)
	}
	if left, _ := os.ReadDir(filepath.Dir(entry)); len(left) != 0 {
		t.Errorf("off left %v in %s", left, filepath.Dir(entry))
	}
	if out, code := autostartCmd(t, config, "off"); code != 0 || out != "decoder was not set to start at login\n" {
		t.Errorf("off again: %q (exit %d)", out, code)
	}

	for _, bad := range [][]string{{}, {"on", "-bogus"}, {"on", "-version"}, {"sideways"}, {"status", "now"}} {
		out, code := autostartCmd(t, config, bad...)
		if code != 1 || !strings.HasPrefix(out, "decoder: ") {
			t.Errorf("autostart %q: %q (exit %d), want an error", bad, out, code)
		}
	}
	if _, err := os.Stat(entry); err == nil {
		t.Error("a refused autostart on wrote an entry")
	}
}

// glibArgv is the command a desktop entry starts, as GLib, which GNOME and
// most desktops start autostart entries with, reads its Exec key (Debian's
// Python, which has GLib's bindings).
func glibArgv(t *testing.T, entry string) []string {
	t.Helper()
	const script = `import sys
from gi.repository import Gio, GLib
cmd = Gio.DesktopAppInfo.new_from_filename(sys.argv[1]).get_commandline()
print("\0".join(a.replace("%%", "%") for a in GLib.shell_parse_argv(cmd)[1]), end="")`
	out, err := exec.Command("/usr/bin/python3", "-c", script, entry).Output()
	if err != nil {
		t.Fatalf("GLib cannot read %s: %v (./deps.sh installs python3-gi)", entry, err)
	}
	return strings.Split(string(out), "\x00")
}

// validateDesktopEntry runs desktop-file-validate on a desktop entry.
func validateDesktopEntry(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath("desktop-file-validate"); err != nil {
		t.Fatal("desktop-file-validate not found: install desktop-file-utils (./deps.sh does)")
	}
	if out, err := exec.Command("desktop-file-validate", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("desktop-file-validate %s: %v\n%s", path, err, out)
	}
}
