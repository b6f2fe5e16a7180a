// boltcheck: independent checker for bbolt files written or read by tsvault.
//
// Usage: boltcheck [-rw] FILE
//
// It opens FILE read-only with go.etcd.io/bbolt (the same 1.3.6 library that
// InfluxDB 2.x uses), runs tx.Check() and prints every reported error to
// stderr. Any Check error means exit status 1. Otherwise it prints a
// canonical dump of the whole tree to stdout and exits 0.
//
// With -rw, after the check and the dump, the file is reopened read-write
// with StrictMode (Check after every commit, panic on failure) and one
// Update creates a new bucket, puts a key in it and deletes that key. This
// proves that bbolt can keep writing to the file. Note that it modifies FILE.
//
// Dump format (the C unit tests produce exactly the same text from their own
// walk and compare byte for byte). One line per entry, in pre-order, keys in
// bolt order (bytewise, a prefix sorts first); the root bucket itself has no
// line:
//
//	B <path> <sequence>             a bucket
//	K <path> <hexkey> <hexvalue>    a plain key/value pair
//
// <path> is the lowercase hex of each bucket name from the top level down,
// joined by "/". For a B line it is the bucket's own path (its name
// included); for a K line it is the path of the bucket that holds the key.
// <sequence> is the bucket's sequence in decimal. Hex is lowercase; an empty
// value is the empty string, so such a K line ends with a space.
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: boltcheck [-rw] FILE")
	os.Exit(2)
}

// dumpBucket writes the lines for everything inside b, whose path is path
// (nil for the root bucket).
func dumpBucket(w *bufio.Writer, b *bolt.Bucket, path []string) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if child := b.Bucket(k); child != nil {
				childPath := append(append([]string{}, path...), hex.EncodeToString(k))
				fmt.Fprintf(w, "B %s %d\n", strings.Join(childPath, "/"), child.Sequence())
				if err := dumpBucket(w, child, childPath); err != nil {
					return err
				}
				continue
			}
		}
		if len(path) == 0 {
			return fmt.Errorf("root bucket holds a plain key %x", k)
		}
		fmt.Fprintf(w, "K %s %s %s\n", strings.Join(path, "/"), hex.EncodeToString(k),
			hex.EncodeToString(v))
	}
	return nil
}

func checkAndDump(path string) (dump string, ok bool) {
	db, err := bolt.Open(path, 0600, &bolt.Options{ReadOnly: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "open: %v\n", err)
		return "", false
	}
	defer db.Close()
	ok = true
	var sb strings.Builder
	err = db.View(func(tx *bolt.Tx) error {
		for cerr := range tx.Check() {
			fmt.Fprintf(os.Stderr, "check: %v\n", cerr)
			ok = false
		}
		w := bufio.NewWriter(&sb)
		if err := dumpBucket(w, tx.Cursor().Bucket(), nil); err != nil {
			return err
		}
		return w.Flush()
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "dump: %v\n", err)
		return "", false
	}
	return sb.String(), ok
}

// writeProbe commits one read-write transaction under StrictMode.
func writeProbe(path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	db, err := bolt.Open(path, 0600, nil)
	if err != nil {
		return fmt.Errorf("open read-write: %v", err)
	}
	defer db.Close()
	db.StrictMode = true
	return db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("boltcheck-rw-probe"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte("k"), []byte("v")); err != nil {
			return err
		}
		return b.Delete([]byte("k"))
	})
}

func main() {
	args := os.Args[1:]
	rw := false
	if len(args) == 2 && args[0] == "-rw" {
		rw = true
		args = args[1:]
	}
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		usage()
	}
	dump, ok := checkAndDump(args[0])
	if !ok {
		os.Exit(1)
	}
	if _, err := os.Stdout.WriteString(dump); err != nil {
		fmt.Fprintf(os.Stderr, "write: %v\n", err)
		os.Exit(1)
	}
	if rw {
		if err := writeProbe(args[0]); err != nil {
			fmt.Fprintf(os.Stderr, "rw: %v\n", err)
			os.Exit(1)
		}
	}
}
