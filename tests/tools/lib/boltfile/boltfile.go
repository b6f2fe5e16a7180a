// Package boltfile holds what the bolt tools share: each edits a copy of a
// bolt file and leaves its input unchanged.
package boltfile

import (
	"io"
	"os"
)

// Copy copies the file in to out (created 0600, truncated if it exists).
func Copy(in, out string) error {
	src, err := os.Open(in)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
