package main

import (
	"os"
	"path/filepath"
)

// logFilePath is %LOCALAPPDATA%\decoder\logs\decoder.log: the user's own,
// not roamed between machines; empty when Windows names no such folder.
func logFilePath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "decoder", "logs", "decoder.log")
}
