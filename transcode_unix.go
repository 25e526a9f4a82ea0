//go:build unix && !linux

package main

import (
	"os"
	"syscall"
)

// childProcAttr puts a child in a process group of its own, so that
// killGroup reaches whatever it starts. Without a parent-death signal here,
// a child ffmpeg ends when decoder dies because its input closes.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills p's process group.
func killGroup(p *os.Process) {
	if p != nil {
		syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
}
