//go:build !unix

package main

import "os/exec"

// killGroupOnCancel leaves cmd as it is: only the script is killed when
// its context ends.
func killGroupOnCancel(cmd *exec.Cmd) {}
