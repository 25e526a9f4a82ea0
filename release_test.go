//go:build linux

package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The release as the tests build it: a version and a commit that no
// ordinary build has, so that the stamping shows.
const (
	testRelease = "9.8.7"
	testCommit  = "0123456789ab"
)

// releaseTargets are the six builds, as release.sh names their downloads.
var releaseTargets = []struct {
	goos, goarch, os string
}{
	{"linux", "amd64", "linux"}, {"linux", "arm64", "linux"},
	{"windows", "amd64", "windows"}, {"windows", "arm64", "windows"},
	{"darwin", "amd64", "macos"}, {"darwin", "arm64", "macos"},
}

// runRelease runs ./release.sh for version and targets (empty: all) into
// a directory of the test's and returns it.
func runRelease(t *testing.T, version, targets string) string {
	t.Helper()
	for _, tool := range []string{"zip", "wixl", "genisoimage"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: ./deps.sh installs it", tool)
		}
	}
	dist := t.TempDir()
	cmd := exec.Command("./release.sh")
	cmd.Env = append(os.Environ(), "OUT="+dist, "VERSION="+version, "COMMIT="+testCommit, "TARGETS="+targets)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	return dist
}

// TestRelease builds the release as release.sh does for a download page,
// and checks each of its parts as a user would meet it: the six binaries
// cross-built (so a platform file that stops compiling fails here) and
// stamped, the checksums, the .deb installed, run and removed in a
// scratch root, the .msi read back with msitools, and the macOS app in its
// zip and its disk image.
func TestRelease(t *testing.T) {
	dist := runRelease(t, testRelease, "")
	t.Run("binaries", func(t *testing.T) { checkBinaries(t, dist) })
	t.Run("checksums", func(t *testing.T) { checkChecksums(t, dist) })
	t.Run("deb", func(t *testing.T) { checkDeb(t, filepath.Join(dist, "decoder_"+testRelease+"_amd64.deb")) })
	t.Run("msi", func(t *testing.T) { checkMSI(t, dist) })
	t.Run("app", func(t *testing.T) { checkApp(t, dist) })
}

// archived returns the files of a .tar.gz or .zip download, by name.
func archived(t *testing.T, path string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			if f.Mode().IsRegular() {
				rc, _ := f.Open()
				files[f.Name], _ = io.ReadAll(rc)
				rc.Close()
			}
		}
		return files
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			files[h.Name], _ = io.ReadAll(tr)
		}
	}
}

// checkBinaries: each target's archive holds README.md and a binary for
// that system and processor, built with -trimpath; Windows ones are GUI
// programs; the Linux one prints the stamped version and commit.
func checkBinaries(t *testing.T, dist string) {
	wd, _ := os.Getwd()
	for _, tg := range releaseTargets {
		name := fmt.Sprintf("decoder_%s_%s_%s", testRelease, tg.os, tg.goarch)
		ext, exe := ".tar.gz", "decoder"
		if tg.goos == "windows" {
			ext, exe = ".zip", "decoder.exe"
		}
		files := archived(t, filepath.Join(dist, name+ext))
		bin := files[name+"/"+exe]
		if len(bin) == 0 || len(files[name+"/README.md"]) == 0 {
			t.Errorf("%s%s holds %d files, want %s and README.md", name, ext, len(files), exe)
			continue
		}
		if got := binaryKind(bin); got != tg.goos+"/"+tg.goarch {
			t.Errorf("%s: the binary is %s, want %s/%s", name, got, tg.goos, tg.goarch)
		}
		if bytes.Contains(bin, []byte(wd)) {
			t.Errorf("%s: the binary names the build directory %s (built without -trimpath?)", name, wd)
		}
		if tg.goos == "linux" && tg.goarch == "amd64" {
			path := filepath.Join(t.TempDir(), "decoder")
			os.WriteFile(path, bin, 0o755)
			out, err := exec.Command(path, "-version").Output()
			if want := "decoder " + testRelease + " (commit " + testCommit + ")\n"; err != nil || string(out) != want {
				t.Errorf("%s -version: %q (%v), want %q", name, out, err, want)
			}
		}
	}
}

// binaryKind says what system and processor an executable is for, and
// for Windows whether it is a console program.
func binaryKind(bin []byte) string {
	r := bytes.NewReader(bin)
	if f, err := elf.NewFile(r); err == nil {
		return "linux/" + map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
	}
	if f, err := macho.NewFile(r); err == nil {
		return "darwin/" + map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
	}
	if f, err := pe.NewFile(r); err == nil {
		kind := "windows/" + map[uint16]string{pe.IMAGE_FILE_MACHINE_AMD64: "amd64", pe.IMAGE_FILE_MACHINE_ARM64: "arm64"}[f.Machine]
		if oh, ok := f.OptionalHeader.(*pe.OptionalHeader64); !ok || oh.Subsystem != pe.IMAGE_SUBSYSTEM_WINDOWS_GUI {
			kind += " (a console program)"
		}
		return kind
	}
	return "unknown"
}

// checkChecksums: SHA256SUMS lists every download with its right sum.
func checkChecksums(t *testing.T, dist string) {
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, _ := strings.Cut(line, "  ")
		listed[name] = sum
	}
	entries, _ := os.ReadDir(dist)
	for _, e := range entries {
		if e.Name() == "SHA256SUMS" {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dist, e.Name()))
		sum := sha256.Sum256(data)
		if listed[e.Name()] != hex.EncodeToString(sum[:]) {
			t.Errorf("SHA256SUMS has %q for %s, want %x", listed[e.Name()], e.Name(), sum)
		}
		delete(listed, e.Name())
	}
	if len(listed) > 0 || len(entries) != 14 {
		t.Errorf("SHA256SUMS lists missing files %v; the release has %d files, want 13 and SHA256SUMS", listed, len(entries))
	}
}

// checkApp: the app's zip and disk image hold decoder.app with its
// Info.plist (the bundle identifier, the version, LSUIElement to live in
// the menu bar), its icon and its binary for the processor.
func checkApp(t *testing.T, dist string) {
	for _, arch := range []string{"amd64", "arm64"} {
		name := fmt.Sprintf("decoder_%s_macos_%s", testRelease, arch)
		files := archived(t, filepath.Join(dist, name+".app.zip"))
		var names []string
		for n := range files {
			names = append(names, n)
		}
		slices.Sort(names)
		want := []string{"decoder.app/Contents/Info.plist", "decoder.app/Contents/MacOS/decoder", "decoder.app/Contents/PkgInfo", "decoder.app/Contents/Resources/decoder.icns"}
		if !slices.Equal(names, want) {
			t.Errorf("%s.app.zip holds %q, want %q", name, names, want)
			continue
		}
		checkInfoPlist(t, files["decoder.app/Contents/Info.plist"])
		if icns, _ := os.ReadFile("icons/decoder.icns"); !bytes.Equal(files["decoder.app/Contents/Resources/decoder.icns"], icns) {
			t.Errorf("%s: the app's icon is not icons/decoder.icns", name)
		}
		bin := files["decoder.app/Contents/MacOS/decoder"]
		if got := binaryKind(bin); got != "darwin/"+arch {
			t.Errorf("%s: the app's binary is %s", name, got)
		}
		checkZipMode(t, filepath.Join(dist, name+".app.zip"), "decoder.app/Contents/MacOS/decoder", 0o755)
		checkDMG(t, filepath.Join(dist, name+".dmg"), bin)
	}
}

// checkInfoPlist checks what macOS reads of decoder.app's Info.plist.
func checkInfoPlist(t *testing.T, data []byte) {
	t.Helper()
	dict, err := readPlistDict(data)
	if err != nil {
		t.Fatalf("Info.plist: %v", err)
	}
	for key, want := range map[string]any{
		"CFBundleIdentifier": bundleID, "CFBundleExecutable": "decoder", "CFBundleIconFile": "decoder",
		"CFBundlePackageType": "APPL", "CFBundleShortVersionString": testRelease, "CFBundleVersion": testRelease,
		"LSUIElement": true,
	} {
		if dict[key] != want {
			t.Errorf("Info.plist %s = %v, want %v", key, dict[key], want)
		}
	}
}

// checkZipMode checks a file's Unix mode in a zip: an app whose binary
// lost its execute bit does not open.
func checkZipMode(t *testing.T, path, name string, want fs.FileMode) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == name && f.Mode().Perm() != want {
			t.Errorf("%s in %s has mode %v, want %v", name, filepath.Base(path), f.Mode().Perm(), want)
		}
	}
}

// checkDMG reads the disk image back with isoinfo: volume decoder, the
// app's binary as in the zip, executable, and the Applications link.
func checkDMG(t *testing.T, path string, bin []byte) {
	t.Helper()
	info, err := exec.Command("isoinfo", "-d", "-i", path).Output()
	if err != nil || !strings.Contains(string(info), "Volume id: decoder\n") {
		t.Errorf("isoinfo -d %s: %v\n%s", path, err, info)
	}
	got, err := exec.Command("isoinfo", "-R", "-i", path, "-x", "/decoder.app/Contents/MacOS/decoder").Output()
	if err != nil || !bytes.Equal(got, bin) {
		t.Errorf("the disk image's binary differs from the zip's (%v)", err)
	}
	list, _ := exec.Command("isoinfo", "-R", "-l", "-i", path).Output()
	for _, want := range []string{"-rwxr-xr-x", "Applications -> /Applications", "Info.plist", "decoder.icns"} {
		if !strings.Contains(string(list), want) {
			t.Errorf("the disk image's listing lacks %q:\n%s", want, list)
		}
	}
}

// wordCount reads the Word Count (PID 15) of an MSI's summary
// information, an OLE property set: a 28-byte header, then per section its
// format ID and offset; at the section, its size, its count of properties,
// and per property its ID and offset; a value is its type, then 4 bytes.
func wordCount(data []byte) (int32, bool) {
	le := binary.LittleEndian
	if len(data) < 48 {
		return 0, false
	}
	section := int(le.Uint32(data[44:]))
	if section+8 > len(data) {
		return 0, false
	}
	count := int(le.Uint32(data[section+4:]))
	for i := 0; i < count && section+16+8*i <= len(data); i++ {
		pid, off := le.Uint32(data[section+8+8*i:]), int(le.Uint32(data[section+12+8*i:]))
		if pid == 15 && section+off+8 <= len(data) {
			return int32(le.Uint32(data[section+off+4:])), true
		}
	}
	return 0, false
}
