//go:build !linux

package main

// portOwner returns "": finding which process listens on a port takes
// system tools here, and the message reads well without the name.
func portOwner(port string) string { return "" }
