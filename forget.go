package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// runForget is decoder forget: it undoes what decoder keeps for the user
// outside its installation, so that removing decoder leaves nothing
// behind: it stops the user's running decoders (through their records, as
// -replace does), turns start at login off, and removes decoder's log
// files, its token key and its directories when they are left empty. The Windows
// installer runs it on uninstall; elsewhere it is run by hand before
// removing decoder.
func runForget(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q; usage: decoder forget", args[0])
	}
	errs := []error{stopRecorded(ctx, stdout)}
	st, err := disableAutostart()
	errs = append(errs, err)
	if st.where != "" {
		fmt.Fprintf(stdout, "decoder no longer starts at login: removed %s\n", st.where)
	}
	if path := logFilePath(); path != "" {
		errs = append(errs, removeLogFiles(path, logFileKeep, stdout))
	}
	errs = append(errs, forgetTokenKey(stdout))
	return errors.Join(errs...)
}

// stopRecorded stops every decoder that left a record in the user's
// runtime directory and waits until it no longer answers; records of
// decoders that are gone are removed, and so is the directory once empty.
func stopRecorded(ctx context.Context, stdout io.Writer) error {
	dir, err := instanceDir()
	if err != nil {
		return err
	}
	records, _ := filepath.Glob(filepath.Join(dir, "instance-*.json"))
	var errs []error
	for _, path := range records {
		info, err := readInstance(path)
		if err != nil {
			continue
		}
		if _, err := probeDecoder(ctx, info.URL); err != nil {
			os.Remove(path) // its decoder is gone
			continue
		}
		if err := requestStop(ctx, info.URL, info); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := waitGone(ctx, info.URL); err != nil {
			errs = append(errs, err)
			continue
		}
		os.Remove(path) // in case it could not remove it itself
		fmt.Fprintf(stdout, "stopped the decoder at %s\n", info.URL)
	}
	removeEmptyDirs(dir)
	return errors.Join(errs...)
}

// waitGone waits until the decoder at base no longer answers.
func waitGone(ctx context.Context, base string) error {
	deadline := time.Now().Add(handOverLimit)
	for time.Now().Before(deadline) {
		if _, err := probeDecoder(ctx, base); err != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("the decoder at %s agreed to stop but still answers after %v", base, handOverLimit)
}

// removeLogFiles removes the log file at path and the keep files moved
// aside from it, then its directory and the directory above if they are
// left empty.
func removeLogFiles(path string, keep int, stdout io.Writer) error {
	r := &rotatingFile{path: path, keep: keep}
	names := []string{path}
	for n := 1; n <= keep; n++ {
		names = append(names, r.keptName(n))
	}
	var errs []error
	removed := 0
	for _, name := range names {
		switch err := os.Remove(name); {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, fmt.Errorf("cannot remove the log: %w", err))
		}
	}
	removeEmptyDirs(filepath.Dir(path))
	if removed > 0 {
		fmt.Fprintf(stdout, "removed decoder's log from %s\n", filepath.Dir(path))
	}
	return errors.Join(errs...)
}

// removeEmptyDirs removes dir, then its parent, if each is empty and named
// for decoder (as all of decoder's own directories are, or sit in one that
// is); it stops at the first that is not.
func removeEmptyDirs(dir string) {
	for range 2 {
		if !isDecoderDir(dir) || os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// isDecoderDir reports whether dir is decoder's or one of its own
// (…/decoder, …/decoder/logs, …/decoder/run).
func isDecoderDir(dir string) bool {
	base := filepath.Base(dir)
	return base == "decoder" || filepath.Base(filepath.Dir(dir)) == "decoder" && (base == "logs" || base == "run")
}
