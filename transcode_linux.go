package main

import (
	"os"
	"syscall"
)

// childProcAttr puts a child in a process group of its own, so that
// killGroup reaches whatever it starts, and has the kernel kill it if
// decoder dies, even by SIGKILL.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills p's process group.
func killGroup(p *os.Process) {
	if p != nil {
		syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
}
