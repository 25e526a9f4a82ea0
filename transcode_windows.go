package main

import (
	"os"
	"syscall"
)

// childProcAttr starts a child without a console window of its own. A
// child ffmpeg ends when decoder dies because its input closes.
func childProcAttr() *syscall.SysProcAttr {
	const createNoWindow = 0x08000000
	return &syscall.SysProcAttr{CreationFlags: createNoWindow, HideWindow: true}
}

// killGroup kills p.
func killGroup(p *os.Process) {
	if p != nil {
		p.Kill()
	}
}
