package main

import (
	"fmt"
	"os/exec"
)

// startDetached starts a short-lived helper and reaps it when it exits, so
// that it never lingers as a zombie.
func startDetached(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("failed to start %s: %w", cmd.Path, err)
	}
	go cmd.Wait()
	return nil
}
