package main

import (
	"os"
	"path/filepath"
)

// logFilePath is ~/Library/Logs/decoder/decoder.log, where Console.app
// finds the logs of the user's programs; empty when there is no home.
func logFilePath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, "Library", "Logs", "decoder", "decoder.log")
}
