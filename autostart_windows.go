package main

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// The Run key of the current user, whose values Windows starts at login,
// and decoder's value there; the installer writes the same value when
// asked to start decoder at login, so either can undo the other.
const (
	runKey       = `Software\Microsoft\Windows\CurrentVersion\Run`
	runValueName = "decoder"
)

// runKeyName is how the value is shown to the user.
const runKeyName = `HKCU\` + runKey + `\` + runValueName

// enableAutostart writes the Run value for exe with args.
func enableAutostart(exe string, args []string) (autostartState, error) {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return autostartState{}, fmt.Errorf("cannot open the Run key: %w", err)
	}
	defer k.Close()
	if err := k.SetStringValue(runValueName, windowsCommandLine(append([]string{exe}, args...))); err != nil {
		return autostartState{}, fmt.Errorf("cannot write %s: %w", runKeyName, err)
	}
	return autostartStatus()
}

// disableAutostart deletes the Run value; where is empty if there was none.
func disableAutostart() (autostartState, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return autostartState{}, nil
	}
	if err != nil {
		return autostartState{}, fmt.Errorf("cannot open the Run key: %w", err)
	}
	defer k.Close()
	err = k.DeleteValue(runValueName)
	switch {
	case errors.Is(err, registry.ErrNotExist):
		return autostartState{}, nil
	case err != nil:
		return autostartState{}, fmt.Errorf("cannot delete %s: %w", runKeyName, err)
	}
	return autostartState{where: runKeyName}, nil
}

// autostartStatus reads the Run value.
func autostartStatus() (autostartState, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return autostartState{}, nil
	}
	if err != nil {
		return autostartState{}, fmt.Errorf("cannot open the Run key: %w", err)
	}
	defer k.Close()
	cmd, _, err := k.GetStringValue(runValueName)
	switch {
	case errors.Is(err, registry.ErrNotExist):
		return autostartState{}, nil
	case err != nil:
		return autostartState{}, fmt.Errorf("cannot read %s: %w", runKeyName, err)
	}
	return autostartState{on: true, where: runKeyName, command: cmd}, nil
}
