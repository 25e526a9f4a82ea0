//go:build !windows

package main

// attachConsole does nothing here: programs on these systems keep the
// standard streams of whoever started them.
func attachConsole() {}
