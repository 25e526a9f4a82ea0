//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// debFiles are what the .deb installs.
var debFiles = []string{
	"usr/bin/decoder",
	"usr/lib/systemd/user/decoder.service",
	"usr/share/applications/decoder.desktop",
	"usr/share/icons/hicolor/128x128/apps/decoder.png",
	"usr/share/icons/hicolor/16x16/apps/decoder.png",
	"usr/share/icons/hicolor/22x22/apps/decoder.png",
	"usr/share/icons/hicolor/24x24/apps/decoder.png",
	"usr/share/icons/hicolor/256x256/apps/decoder.png",
	"usr/share/icons/hicolor/32x32/apps/decoder.png",
	"usr/share/icons/hicolor/48x48/apps/decoder.png",
	"usr/share/icons/hicolor/512x512/apps/decoder.png",
	"usr/share/icons/hicolor/64x64/apps/decoder.png",
}

// dpkg runs dpkg on the scratch root.
func dpkg(t *testing.T, root string, args ...string) {
	t.Helper()
	args = append([]string{"--root=" + root, "--force-not-root", "--force-script-chrootless"}, args...)
	if out, err := exec.Command("dpkg", args...).CombinedOutput(); err != nil {
		t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// regularFiles lists the files under root, relative to it.
func regularFiles(root string) []string {
	var files []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			files = append(files, rel)
		}
		return nil
	})
	slices.Sort(files)
	return files
}

// checkDeb installs the .deb with dpkg into a scratch root (an empty
// dpkg database of its own, so the machine is not touched): the binary,
// the desktop entry (valid, its icon installed), the systemd user unit
// (verified by systemd), then starts the binary as the unit does and asks
// its /version, and removes the package, which must leave no file.
func checkDeb(t *testing.T, deb string) {
	fields, err := exec.Command("dpkg-deb", "-f", deb, "Package", "Version", "Architecture").Output()
	if want := "Package: decoder\nVersion: " + testRelease + "\nArchitecture: amd64\n"; err != nil || string(fields) != want {
		t.Errorf("control fields %q (%v), want %q", fields, err, want)
	}
	root := t.TempDir()
	for _, dir := range []string{"info", "updates", "triggers"} {
		os.MkdirAll(filepath.Join(root, "var/lib/dpkg", dir), 0o755)
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	dpkg(t, root, "-i", deb)

	var installed []string
	for _, f := range regularFiles(root) {
		if !strings.HasPrefix(f, "var/lib/dpkg/") {
			installed = append(installed, f)
		}
	}
	if !slices.Equal(installed, debFiles) {
		t.Errorf("installed %q, want %q", installed, debFiles)
	}
	if st, err := os.Stat(filepath.Join(root, "usr/bin/decoder")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("usr/bin/decoder: %v %v, want mode 0755", st, err)
	}
	validateDesktopEntry(t, filepath.Join(root, "usr/share/applications/decoder.desktop"))
	args := checkUserUnit(t, root)
	runInstalled(t, filepath.Join(root, args[0]), args[1:])

	dpkg(t, root, "-P", "decoder")
	for _, f := range regularFiles(root) {
		if !strings.HasPrefix(f, "var/lib/dpkg/") {
			t.Errorf("removing the package left %s", f)
		}
	}
	for _, dir := range []string{"usr/bin", "usr/share/applications", "usr/lib/systemd/user"} {
		if _, err := os.Stat(filepath.Join(root, dir)); err == nil {
			t.Errorf("removing the package left the directory %s", dir)
		}
	}
}

// checkUserUnit checks the installed systemd user unit with
// systemd-analyze verify, its binary's path rewritten to the scratch root
// (systemd checks that the binary it starts exists), and returns what it
// starts.
func checkUserUnit(t *testing.T, root string) []string {
	t.Helper()
	unit, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/user/decoder.service"))
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(unit), "\n") {
		if cmd, ok := strings.CutPrefix(line, "ExecStart="); ok {
			args = strings.Fields(cmd)
		}
	}
	if len(args) == 0 || args[0] != "/usr/bin/decoder" || !strings.Contains(string(unit), "WantedBy=default.target") {
		t.Fatalf("the user unit starts %q, want /usr/bin/decoder, wanted by default.target:\n%s", args, unit)
	}
	dir := t.TempDir()
	rewritten := strings.Replace(string(unit), "ExecStart=/usr/bin/", "ExecStart="+root+"/usr/bin/", 1)
	os.WriteFile(filepath.Join(dir, "decoder.service"), []byte(rewritten), 0o644)
	cmd := exec.Command("systemd-analyze", "verify", "--user", filepath.Join(dir, "decoder.service"))
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify --user decoder.service: %v\n%s", err, out)
	}
	return args
}

// runInstalled starts the installed binary with args, waits for its
// /version to answer with the release's version, and stops it.
func runInstalled(t *testing.T, bin string, args []string) {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PORT=" + port, "HOME=" + t.TempDir()}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var version string
	answered := eventually(10*time.Second, func() bool {
		var err error
		version, err = probeDecoder(context.Background(), "http://127.0.0.1:"+port)
		return err == nil
	})
	if !answered || version != testRelease {
		t.Errorf("the installed decoder's /version: %q (answered %v), want %s\n%s", version, answered, testRelease, &stderr)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the installed decoder stopped with %v\n%s", err, &stderr)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Errorf("the installed decoder did not stop on SIGTERM")
	}
}

// msiTable exports an MSI table with msiinfo: rows of named columns.
func msiTable(t *testing.T, msi, table string) []map[string]string {
	t.Helper()
	out, err := exec.Command("msiinfo", "export", msi, table).Output()
	if err != nil {
		t.Fatalf("msiinfo export %s %s: %v", filepath.Base(msi), table, err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\r\n"), "\n")
	cols := strings.Split(strings.TrimRight(lines[0], "\r"), "\t")
	var rows []map[string]string
	for _, line := range lines[3:] {
		row := map[string]string{}
		for i, v := range strings.Split(strings.TrimRight(line, "\r"), "\t") {
			if i < len(cols) {
				row[cols[i]] = v
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// msiProperties is an MSI's Property table as a map.
func msiProperties(t *testing.T, msi string) map[string]string {
	props := map[string]string{}
	for _, row := range msiTable(t, msi, "Property") {
		props[row["Property"]] = row["Value"]
	}
	return props
}

// checkMSI reads the Windows installer back with msitools: a per-user
// install needing no administrator (no ALLUSERS, summary word count 10),
// decoder.exe the zip's, in %LOCALAPPDATA%\Programs\decoder, a Start-menu
// shortcut to it, start at login only with AUTOSTART=1, decoder forget on
// uninstall, and an upgrade code that a newer version keeps while its
// product code changes.
func checkMSI(t *testing.T, dist string) {
	msi := filepath.Join(dist, "decoder_"+testRelease+"_windows_amd64.msi")
	tables, _ := exec.Command("msiinfo", "tables", msi).Output()
	for _, table := range []string{"File", "Component", "Directory", "Shortcut", "Registry", "CustomAction", "InstallExecuteSequence", "Upgrade", "Property"} {
		if !slices.Contains(strings.Fields(string(tables)), table) {
			t.Errorf("the MSI has no %s table: %s", table, tables)
		}
	}
	props := msiProperties(t, msi)
	if props["ProductVersion"] != testRelease || props["UpgradeCode"] != "{9E53485C-0D94-449A-9398-4C79C9A5892A}" || props["AUTOSTART"] != "0" {
		t.Errorf("properties %v", props)
	}
	if _, ok := props["ALLUSERS"]; ok {
		t.Errorf("ALLUSERS is set (%q): the install would not be per-user", props["ALLUSERS"])
	}
	suminfo, _ := exec.Command("msiinfo", "extract", msi, "\x05SummaryInformation").Output()
	if wc, ok := wordCount(suminfo); !ok || wc != 10 {
		t.Errorf("summary word count %d (%v), want 10: compressed, no elevation", wc, ok)
	}
	dirs := map[string]string{}
	for _, row := range msiTable(t, msi, "Directory") {
		dirs[row["Directory"]] = row["Directory_Parent"] + "/" + row["DefaultDir"]
	}
	if dirs["INSTALLDIR"] != "UserPrograms/decoder" || dirs["UserPrograms"] != "LocalAppDataFolder/Programs" {
		t.Errorf("directories %v, want INSTALLDIR at LocalAppDataFolder/Programs/decoder", dirs)
	}
	shortcuts := msiTable(t, msi, "Shortcut")
	if len(shortcuts) != 1 || shortcuts[0]["Directory_"] != "ProgramMenuFolder" || shortcuts[0]["Target"] != "[INSTALLDIR]decoder.exe" || shortcuts[0]["Name"] != "decoder" {
		t.Errorf("shortcuts %v, want one in the Start menu to decoder.exe", shortcuts)
	}
	checkMSIActions(t, msi)

	extracted := t.TempDir()
	if out, err := exec.Command("msiextract", "-C", extracted, msi).CombinedOutput(); err != nil {
		t.Fatalf("msiextract: %v\n%s", err, out)
	}
	var exe []byte
	filepath.WalkDir(extracted, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "decoder.exe" {
			exe, _ = os.ReadFile(path)
		}
		return nil
	})
	zipped := archived(t, filepath.Join(dist, "decoder_"+testRelease+"_windows_amd64.zip"))
	if len(exe) == 0 || !bytes.Equal(exe, zipped["decoder_"+testRelease+"_windows_amd64/decoder.exe"]) {
		t.Errorf("the MSI's decoder.exe (%d bytes) is not the zip's", len(exe))
	}

	next := filepath.Join(runRelease(t, "9.8.8", "windows/amd64"), "decoder_9.8.8_windows_amd64.msi")
	nextProps := msiProperties(t, next)
	if nextProps["UpgradeCode"] != props["UpgradeCode"] || nextProps["ProductCode"] == props["ProductCode"] || nextProps["ProductVersion"] != "9.8.8" {
		t.Errorf("9.8.8 has upgrade code %s, product code %s, version %s; 9.8.7 %s, %s: want the same upgrade code, another product code",
			nextProps["UpgradeCode"], nextProps["ProductCode"], nextProps["ProductVersion"], props["UpgradeCode"], props["ProductCode"])
	}
}

// checkMSIActions: decoder.exe sets start at login when AUTOSTART=1 and
// forgets the user's settings on uninstall (not on upgrade), both inside
// the install script.
func checkMSIActions(t *testing.T, msi string) {
	t.Helper()
	actions := map[string]string{}
	for _, row := range msiTable(t, msi, "CustomAction") {
		actions[row["Action"]] = row["Source"] + " " + row["Target"]
	}
	if actions["AutostartOn"] != "decoder.exe autostart on" || actions["Forget"] != "decoder.exe forget" {
		t.Errorf("custom actions %v", actions)
	}
	seq := map[string]int{}
	cond := map[string]string{}
	for _, row := range msiTable(t, msi, "InstallExecuteSequence") {
		var n int
		fmt.Sscan(row["Sequence"], &n)
		seq[row["Action"]], cond[row["Action"]] = n, row["Condition"]
	}
	for _, a := range []string{"AutostartOn", "Forget"} {
		if seq[a] <= seq["InstallInitialize"] || seq[a] >= seq["InstallFinalize"] {
			t.Errorf("%s at %d, outside the install script (%d to %d)", a, seq[a], seq["InstallInitialize"], seq["InstallFinalize"])
		}
	}
	if seq["Forget"] >= seq["RemoveFiles"] || seq["AutostartOn"] <= seq["InstallFiles"] {
		t.Errorf("Forget at %d must run before RemoveFiles (%d), AutostartOn at %d after InstallFiles (%d)", seq["Forget"], seq["RemoveFiles"], seq["AutostartOn"], seq["InstallFiles"])
	}
	if cond["AutostartOn"] != `AUTOSTART = "1" AND NOT REMOVE` || cond["Forget"] != `REMOVE = "ALL" AND NOT UPGRADINGPRODUCTCODE` {
		t.Errorf("conditions %q and %q", cond["AutostartOn"], cond["Forget"])
	}
}
