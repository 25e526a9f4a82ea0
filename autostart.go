package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// autostartState is whether decoder starts at login, where that is set
// (a file or a registry value) and what it starts.
type autostartState struct {
	on      bool
	where   string
	command string
}

// autostartUsage is decoder autostart's synopsis.
const autostartUsage = "usage: decoder autostart on [flags] | off | status"

// runAutostart is decoder autostart on [flags] | off | status: it makes
// decoder start at login with those flags, stops that, or says which is
// set. The flags are checked as decoder itself would check them.
func runAutostart(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(autostartUsage)
	}
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "on":
		return autostartOn(rest, stdout)
	case cmd == "-h" || cmd == "-help" || cmd == "--help":
		fmt.Fprintln(stdout, autostartUsage+"\n\nStarts decoder when you log in, with the flags given (decoder -h lists them), or no longer.")
		return nil
	case len(rest) > 0:
		return fmt.Errorf("unexpected argument %q; %s", rest[0], autostartUsage)
	case cmd == "off":
		st, err := disableAutostart()
		switch {
		case err != nil:
			return err
		case st.where == "":
			fmt.Fprintln(stdout, "decoder was not set to start at login")
		default:
			fmt.Fprintf(stdout, "decoder no longer starts at login: removed %s\n", st.where)
		}
		return nil
	case cmd == "status":
		st, err := autostartStatus()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, describeAutostart(st))
		return nil
	}
	return fmt.Errorf("unknown autostart command %q; %s", args[0], autostartUsage)
}

// autostartOn checks flags, then sets decoder to start at login with them.
func autostartOn(flags []string, stdout io.Writer) error {
	// The flag package prints the whole usage with each error; here the
	// error alone says enough, and -h still prints the usage.
	var usage bytes.Buffer
	cfg, err := parseConfig(flags, func(string) string { return "" }, &usage)
	if errors.Is(err, flag.ErrHelp) {
		stdout.Write(usage.Bytes())
		return err
	}
	if err != nil {
		return fmt.Errorf("decoder autostart on: %w; see decoder -h", err)
	}
	if cfg.ShowVersion {
		return errors.New("decoder autostart on: -version is not a flag to start decoder with")
	}
	exe, err := autostartExecutable()
	if err != nil {
		return err
	}
	st, err := enableAutostart(exe, flags)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, describeAutostart(st))
	return nil
}

// describeAutostart is what decoder autostart status prints.
func describeAutostart(st autostartState) string {
	if !st.on {
		return "off: decoder does not start at login"
	}
	return fmt.Sprintf("on: %s starts %s", st.where, st.command)
}

// autostartExecutable is the absolute path of the running binary, which
// "Start at login" starts. A binary that will be gone by the next login is
// refused: go run's, or a macOS app run from where Gatekeeper translocated
// it.
func autostartExecutable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find decoder's own binary: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	switch {
	case strings.Contains(exe, string(filepath.Separator)+"go-build"):
		return "", errors.New("decoder is running from a temporary build (go run); build it with go build and run that binary to make it start at login")
	case strings.Contains(exe, "/AppTranslocation/"):
		return "", errors.New("macOS runs decoder.app from a temporary copy; move it to Applications and open it from there to make it start at login")
	}
	return exe, nil
}

// writeFileAtomic writes data to path through a temporary file renamed
// over it, so that a reader (a login, decoder -replace) never sees half of
// it, creating the directory with dirPerm if needed.
func writeFileAtomic(path string, data []byte, dirPerm, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
