// boltgen: makes a large InfluxDB 2.x KV file for the memory benchmarks and
// tests of POST /api/v2/restore/kv: a copy of a real influxd.bolt with a
// bucket of task-like records added until the file reaches a given size.
//
// Usage: boltgen -in IN -out OUT -size BYTES [-bucket tasksv1] [-value 1024]
//
// IN is never modified. OUT is written by go.etcd.io/bbolt 1.3.x (the library
// InfluxDB 2.x uses) with its defaults, the way influxd grows its own file:
// records go into BUCKET (created if absent; "tasksv1" by default) in
// batches of 10,000 per transaction, keys are 16-hex-digit IDs in increasing
// order (as influxd's time-based IDs are), values are task JSON padded to
// exactly -value bytes with a Flux comment. bbolt splits pages half full on
// sequential inserts, so the file is about twice the payload, as real ones
// are. Generation stops at the first commit that makes the file >= BYTES.
// Deterministic: the same IN and flags give the same records. OUT is
// written under OUT.tmp and renamed when complete, so an interrupted run
// never leaves a file at OUT. Prints the record count on stdout.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"
	"tsvault/tools/lib/boltfile"
)

// task returns record n: a JSON task as influxd stores it, padded to size.
func task(n uint64, size int) (key, val []byte) {
	id := fmt.Sprintf("%016x", 0x0b00000000000000+n)
	head := fmt.Sprintf(`{"id":"%s","orgID":"0a1b2c3d4e5f6071","ownerID":"0a1b2c3d4e5f6072",`+
		`"type":"system","name":"task-%07d","status":"active","every":"1h",`+
		`"latestCompleted":"2024-01-01T00:00:00Z","createdAt":"2023-12-01T00:00:00Z",`+
		`"updatedAt":"2023-12-01T00:00:00Z","flux":"option task = {name: \"task-%07d\", every: 1h}\n`+
		`from(bucket: \"telegraf\") |> range(start: -1h) |> aggregateWindow(every: 1m, fn: mean)`+
		` |> to(bucket: \"downsampled\")\n// `, id, n, n)
	tail := `"}`
	pad := size - len(head) - len(tail)
	if pad < 0 {
		pad = 0
	}
	return []byte(id), []byte(head + strings.Repeat("x", pad) + tail)
}

func main() {
	in := flag.String("in", "", "source bolt file (unchanged)")
	out := flag.String("out", "", "output bolt file")
	size := flag.Int64("size", 0, "stop once the file is at least this many bytes")
	bucket := flag.String("bucket", "tasksv1", "bucket receiving the records")
	vsize := flag.Int("value", 1024, "bytes per value")
	flag.Parse()
	if *in == "" || *out == "" || *size <= 0 {
		fmt.Fprintln(os.Stderr, "usage: boltgen -in IN -out OUT -size BYTES [-bucket B] [-value N]")
		os.Exit(2)
	}
	tmp := *out + ".tmp"
	if err := boltfile.Copy(*in, tmp); err != nil {
		fmt.Fprintf(os.Stderr, "boltgen: copy: %v\n", err)
		os.Exit(1)
	}
	db, err := bolt.Open(tmp, 0600, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "boltgen: open %s: %v\n", tmp, err)
		os.Exit(1)
	}
	// One fsync at the end instead of one per batch.
	db.NoSync = true
	var n uint64
	for err == nil {
		err = db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte(*bucket))
			if err != nil {
				return err
			}
			for i := 0; i < 10000; i++ {
				k, v := task(n, *vsize)
				if err := b.Put(k, v); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		var st os.FileInfo
		if err == nil {
			st, err = os.Stat(tmp)
		}
		if err == nil && st.Size() >= *size {
			break
		}
	}
	if err == nil {
		err = db.Sync()
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, *out)
	}
	if err != nil {
		os.Remove(tmp)
		fmt.Fprintf(os.Stderr, "boltgen: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(n)
}
