package main

import (
	"os"

	"golang.org/x/sys/windows"
)

// attachParentProcess is AttachConsole's ATTACH_PARENT_PROCESS, (DWORD)-1.
const attachParentProcess = ^uint32(0)

var procAttachConsole = windows.NewLazySystemDLL("kernel32.dll").NewProc("AttachConsole")

// attachConsole lets decoder.exe print when it is run from a console.
// Built as a GUI program (-H=windowsgui), so that starting it from the
// Start menu or at login opens no console window, it gets no console of its
// own: output redirected to a file or a pipe arrives as usual, and
// otherwise it borrows the console of the program that started it (cmd,
// PowerShell), if any, for -h, -version, load and autostart.
func attachConsole() {
	stdout, stderr := hasStdHandle(windows.STD_OUTPUT_HANDLE), hasStdHandle(windows.STD_ERROR_HANDLE)
	if stdout && stderr {
		return
	}
	if r, _, _ := procAttachConsole.Call(uintptr(attachParentProcess)); r == 0 {
		return // started from Explorer, the Start menu or at login: no console
	}
	con, err := os.OpenFile("CONOUT$", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	if !stdout {
		os.Stdout = con
	}
	if !stderr {
		os.Stderr = con
	}
}

// hasStdHandle reports whether the process was given a usable standard
// handle (a GUI program started without redirection gets none).
func hasStdHandle(which uint32) bool {
	h, err := windows.GetStdHandle(which)
	return err == nil && h != 0 && h != windows.InvalidHandle
}
