// Command tsmcheck is tsvault's independent TSM checker: it reads TSM files
// with InfluxDB's own tsm1 package (Debian's InfluxDB 1.6.7 Go source, whose
// TSM reader and encodings match InfluxDB 2.x) so tests can compare the C
// validator's verdicts and counts against the real implementation.
//
//	tsmcheck verify FILE...
//	    Opens each file with tsm1.NewTSMReader (which also applies FILE's
//	    .tombstone, as InfluxDB does), walks every block with the reader's
//	    BlockIterator, and checks: CRC32 of the block data; the block type
//	    byte == the index type; tsm1.DecodeBlock succeeds; the value count
//	    equals both tsm1.BlockCount (timestamps) and an independent count of
//	    the value section with tsm1's own value decoders (DecodeBlock silently
//	    stops at the shorter stream); timestamps strictly increase; first/last
//	    == the index entry's MinTime/MaxTime. Prints
//	    "FILE: ok keys=K blocks=B values=V" or "FILE: ERROR ..." per file and
//	    exits 1 if any file has a problem. Panics inside tsm1 (it panics on
//	    some malformed blocks) are reported as errors.
//
//	tsmcheck export -datadir DIR -database DB -retention RP
//	    Prints what `influx_inspect export -database DB -retention RP` prints
//	    for the *.tsm files under DIR/DB/RP/ (the WAL is not read): the same
//	    header lines, files in string-sorted path order, keys in TSM order,
//	    values in time order with tombstones applied (tsm1.TSMReader.ReadAll),
//	    one line per field value. Exits 1 if a file cannot be read (export
//	    itself would skip it with a message).
//
//	    Options: -start/-end RFC3339 keep values with start <= time <= end
//	    (influx_inspect's -start/-end, also printed in the header);
//	    -measurement M (repeatable) keeps keys whose measurement name
//	    (models.ParseName of the series key) is M; -dedupe leaves out a value
//	    when a later file (path order) of the same shard directory holds the
//	    same key and timestamp after its own tombstones: what InfluxDB's
//	    readers return (later files win), not what influx_inspect prints.
//
//	tsmcheck stats -datadir DIR -database DB -retention RP
//	    Prints JSON statistics read with tsm1.TSMReader (tombstones applied
//	    by the reader): per shard directory and in total, files, tsmBytes,
//	    keys, distinct series and measurements, distinct (measurement, field)
//	    per block type, blocks and values (tsm1.BlockCount of each block), and
//	    the min/max time of the index entries.
//
//	tsmcheck tombstone -file FILE.tsm -key KEY -min T -max T
//	    Records a deletion of KEY's values in [min, max] (ns) with tsm1's own
//	    Tombstoner, i.e. writes or extends FILE's .tombstone as influxd does.
//
//	tsmcheck fmtfloat
//	    Reads one float64 per line as 16 hex digits of its IEEE-754 bits and
//	    prints strconv.FormatFloat(v, 'g', -1, 64) for each: influx_inspect's
//	    float format, for differential tests of other implementations.
//
//	tsmcheck gen -out FILE [-series N] [-points P] [-block B] [-edge=false]
//	             [-start RFC3339] [-interval D] [-jitter J] [-seed S] [-first-series I]
//	    Writes a deterministic TSM file with tsm1's own writer: one key per
//	    edge case of every block type and encoding (float, integer, unsigned,
//	    boolean, string; raw/packed/RLE timestamps and integers; NaN-free
//	    special floats; empty and non-ASCII strings; left out with
//	    -edge=false) and then N series x 5 fields of P points each in blocks
//	    of B values (realistic data, for benchmarks): series
//	    "sensor,id=NNNNNN" numbered from -first-series, one point every
//	    -interval (default 10s) after -start (default 2024-01-01), one point
//	    in about J (default 50; 0: none) late by up to interval/10 (delays
//	    accumulate; a block with one is stored with packed rather than RLE
//	    timestamps); fields humidity (random float, 1 dp), ok
//	    (bool, mostly true), pressure (int random walk), status (one of four
//	    strings), temp (float random walk, 2 dp); random stream seeded by
//	    -seed. Prints "FILE: keys=K blocks=B values=V".
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/influxdb/models"
	"github.com/influxdata/influxdb/pkg/escape"
	"github.com/influxdata/influxdb/tsdb/engine/tsm1"
	"github.com/influxdata/influxql"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: tsmcheck verify FILE...\n"+
		"       tsmcheck export -datadir DIR -database DB -retention RP [-start T] [-end T]\n"+
		"                       [-measurement M]... [-dedupe]\n"+
		"       tsmcheck stats -datadir DIR -database DB -retention RP\n"+
		"       tsmcheck gen -out FILE [-series N] [-points P] [-block B] [-edge=false]\n"+
		"                    [-start RFC3339] [-interval D] [-jitter J] [-seed S] [-first-series I]")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "verify":
		os.Exit(cmdVerify(os.Args[2:]))
	case "export":
		os.Exit(cmdExport(os.Args[2:]))
	case "gen":
		os.Exit(cmdGen(os.Args[2:]))
	case "stats":
		os.Exit(cmdStats(os.Args[2:]))
	case "fmtfloat":
		sc := bufio.NewScanner(os.Stdin)
		w := bufio.NewWriter(os.Stdout)
		for sc.Scan() {
			bits, err := strconv.ParseUint(strings.TrimSpace(sc.Text()), 16, 64)
			if err != nil {
				fmt.Fprintln(os.Stderr, "fmtfloat:", err)
				os.Exit(1)
			}
			w.WriteString(strconv.FormatFloat(math.Float64frombits(bits), 'g', -1, 64))
			w.WriteByte('\n')
		}
		w.Flush()
	case "tombstone":
		fs := flag.NewFlagSet("tombstone", flag.ExitOnError)
		file := fs.String("file", "", "TSM file")
		key := fs.String("key", "", "TSM key (series#!~#field)")
		min := fs.Int64("min", math.MinInt64, "first deleted time (ns)")
		max := fs.Int64("max", math.MaxInt64, "last deleted time (ns)")
		fs.Parse(os.Args[2:])
		if *file == "" || *key == "" {
			usage()
		}
		t := tsm1.NewTombstoner(*file, nil)
		if err := t.AddRange([][]byte{[]byte(*key)}, *min, *max); err != nil {
			fmt.Fprintln(os.Stderr, "tombstone:", err)
			os.Exit(1)
		}
		if err := t.Flush(); err != nil {
			fmt.Fprintln(os.Stderr, "tombstone:", err)
			os.Exit(1)
		}
	default:
		usage()
	}
}

// ---------------------------------------------------------------- verify

type fileStats struct {
	keys, blocks, values int
}

func cmdVerify(files []string) int {
	if len(files) == 0 {
		usage()
	}
	rc := 0
	for _, path := range files {
		st, err := verifyFile(path)
		if err != nil {
			fmt.Printf("%s: ERROR %v\n", path, err)
			rc = 1
			continue
		}
		fmt.Printf("%s: ok keys=%d blocks=%d values=%d\n", path, st.keys, st.blocks, st.values)
	}
	return rc
}

func verifyFile(path string) (st fileStats, err error) {
	// tsm1 panics on some malformed input (short blocks, bad offsets); a
	// checker must report that, not crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in tsm1: %v", r)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return st, err
	}
	r, err := tsm1.NewTSMReader(f)
	if err != nil {
		f.Close()
		return st, fmt.Errorf("open: %v", err)
	}
	defer r.Close()
	st.keys = r.KeyCount()

	it := r.BlockIterator()
	var prevKey string
	blockOfKey := 0
	for it.Next() {
		key, minT, maxT, typ, crc, buf, err := it.Read()
		if err != nil {
			return st, fmt.Errorf("block %d: read: %v", st.blocks, err)
		}
		if string(key) != prevKey {
			prevKey, blockOfKey = string(key), 0
		}
		where := fmt.Sprintf("block %d of key %q", blockOfKey, key)
		blockOfKey++
		if got := crc32.ChecksumIEEE(buf); got != crc {
			return st, fmt.Errorf("%s: CRC32 mismatch (stored 0x%08x, computed 0x%08x)", where, crc, got)
		}
		if len(buf) < 2 {
			return st, fmt.Errorf("%s: block of %d bytes", where, len(buf))
		}
		if buf[0] != typ {
			return st, fmt.Errorf("%s: block type %d, index type %d", where, buf[0], typ)
		}
		n, err := countValues(buf)
		if err != nil {
			return st, fmt.Errorf("%s: %v", where, err)
		}
		values, err := tsm1.DecodeBlock(buf, nil)
		if err != nil {
			return st, fmt.Errorf("%s: decode: %v", where, err)
		}
		nts := tsm1.BlockCount(buf)
		if len(values) != nts || n != nts {
			return st, fmt.Errorf("%s: %d timestamps, %d values, DecodeBlock returned %d",
				where, nts, n, len(values))
		}
		if len(values) == 0 {
			return st, fmt.Errorf("%s: empty block", where)
		}
		for i := 1; i < len(values); i++ {
			if values[i].UnixNano() <= values[i-1].UnixNano() {
				return st, fmt.Errorf("%s: timestamps not increasing at value %d", where, i)
			}
		}
		if values[0].UnixNano() != minT || values[len(values)-1].UnixNano() != maxT {
			return st, fmt.Errorf("%s: decoded range [%d, %d] != index [%d, %d]", where,
				values[0].UnixNano(), values[len(values)-1].UnixNano(), minT, maxT)
		}
		st.blocks++
		st.values += len(values)
	}
	if err := it.Err(); err != nil {
		return st, err
	}
	return st, nil
}

// valueDecoder is what tsm1's float, integer and boolean decoders share.
type valueDecoder interface {
	Next() bool
	Error() error
}

// countDecoded runs d to the end: the values it decoded, or its error.
func countDecoded(d valueDecoder) (int, error) {
	n := 0
	for d.Next() {
		n++
	}
	return n, d.Error()
}

// countValues counts the value section of a block with tsm1's own value
// decoders, independently of the timestamps.
func countValues(block []byte) (int, error) {
	b := block[1:]
	tsLen, k := binary.Uvarint(b)
	if k <= 0 || tsLen > uint64(len(b)-k) {
		return 0, fmt.Errorf("bad timestamp section length")
	}
	vb := b[k+int(tsLen):]
	switch block[0] {
	case tsm1.BlockFloat64:
		var d tsm1.FloatDecoder
		if err := d.SetBytes(vb); err != nil {
			return 0, err
		}
		return countDecoded(&d)
	case tsm1.BlockInteger, tsm1.BlockUnsigned:
		var d tsm1.IntegerDecoder
		d.SetBytes(vb)
		return countDecoded(&d)
	case tsm1.BlockBoolean:
		var d tsm1.BooleanDecoder
		d.SetBytes(vb)
		return countDecoded(&d)
	case tsm1.BlockString:
		var d tsm1.StringDecoder
		if err := d.SetBytes(vb); err != nil {
			return 0, err
		}
		n := 0
		for d.Next() {
			d.Read()
			if d.Error() != nil {
				return 0, d.Error()
			}
			n++
		}
		return n, d.Error()
	}
	return 0, fmt.Errorf("unknown block type %d", block[0])
}

// ---------------------------------------------------------------- export

func cmdExport(args []string) int {
	fs := flag.NewFlagSet("export", flag.ExitOnError)
	dataDir := fs.String("datadir", "", "data directory (holds DB/RP/shard/*.tsm)")
	db := fs.String("database", "", "database")
	rp := fs.String("retention", "", "retention policy")
	startS := fs.String("start", "", "first time to export (RFC3339)")
	endS := fs.String("end", "", "last time to export (RFC3339)")
	dedupe := fs.Bool("dedupe", false, "later files of a shard win on duplicate timestamps")
	var meas multiFlag
	fs.Var(&meas, "measurement", "measurement to export (repeatable)")
	fs.Parse(args)
	if *dataDir == "" || *db == "" || *rp == "" {
		usage()
	}
	opt := exportOpts{start: math.MinInt64, end: math.MaxInt64, dedupe: *dedupe}
	if len(meas) > 0 {
		opt.meas = map[string]bool{}
		for _, m := range meas {
			opt.meas[m] = true
		}
	}
	if *startS != "" {
		t, err := time.Parse(time.RFC3339, *startS)
		if err != nil {
			fmt.Fprintln(os.Stderr, "export: -start:", err)
			return 2
		}
		opt.start = t.UnixNano()
	}
	if *endS != "" {
		t, err := time.Parse(time.RFC3339, *endS)
		if err != nil {
			fmt.Fprintln(os.Stderr, "export: -end:", err)
			return 2
		}
		opt.end = t.UnixNano()
	}

	var files []string
	root := filepath.Join(*dataDir, *db, *rp)
	err := filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if filepath.Ext(path) == "."+tsm1.TSMFileExtension {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		return 1
	}
	// influx_inspect sorts the full paths as strings ("10" before "9").
	sort.Strings(files)

	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	// influx_inspect's default range is the whole int64 range; it formats
	// the bounds with time.RFC3339.
	fmt.Fprintf(w, "# INFLUXDB EXPORT: %s - %s\n",
		time.Unix(0, opt.start).UTC().Format(time.RFC3339),
		time.Unix(0, opt.end).UTC().Format(time.RFC3339))
	fmt.Fprintln(w, "# DDL")
	fmt.Fprintf(w, "CREATE DATABASE %s WITH NAME %s\n", influxql.QuoteIdent(*db), influxql.QuoteIdent(*rp))
	fmt.Fprintln(w, "# DML")
	fmt.Fprintf(w, "# CONTEXT-DATABASE:%s\n", *db)
	fmt.Fprintf(w, "# CONTEXT-RETENTION-POLICY:%s\n", *rp)
	fmt.Fprintln(w, "# writing tsm data")

	rc := 0
	for i, path := range files {
		var later []string
		if opt.dedupe {
			for _, p := range files[i+1:] {
				if filepath.Dir(p) == filepath.Dir(path) {
					later = append(later, p)
				}
			}
		}
		if err := exportFile(w, path, later, opt); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			rc = 1
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		return 1
	}
	return rc
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type exportOpts struct {
	start, end int64
	meas       map[string]bool
	dedupe     bool
}

func openReader(path string) (*tsm1.TSMReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := tsm1.NewTSMReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func exportFile(w *bufio.Writer, path string, later []string, opt exportOpts) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in tsm1: %v", r)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	r, err := tsm1.NewTSMReader(f)
	if err != nil {
		f.Close()
		return err
	}
	defer r.Close()
	var shadows []*tsm1.TSMReader
	for _, p := range later {
		sr, err := openReader(p)
		if err != nil {
			return err
		}
		defer sr.Close()
		shadows = append(shadows, sr)
	}

	for i := 0; i < r.KeyCount(); i++ {
		key, _ := r.KeyAt(i)
		values, err := r.ReadAll(key)
		if err != nil {
			return fmt.Errorf("key %q: %v", key, err)
		}
		series, field := tsm1.SeriesAndFieldFromCompositeKey(key)
		if opt.meas != nil && !opt.meas[string(models.ParseName(series))] {
			continue
		}
		// Timestamps a later file holds for this key: InfluxDB returns
		// that file's value instead.
		shadowed := map[int64]bool{}
		for _, sr := range shadows {
			vs, err := sr.ReadAll(key)
			if err != nil {
				return fmt.Errorf("key %q: %v", key, err)
			}
			for _, v := range vs {
				shadowed[v.UnixNano()] = true
			}
		}
		// The series key is stored escaped; the field key raw.
		prefix := string(series) + " " + string(escape.Bytes(field)) + "="
		for _, v := range values {
			if v.UnixNano() < opt.start || v.UnixNano() > opt.end || shadowed[v.UnixNano()] {
				continue
			}
			line := []byte(prefix)
			switch x := v.Value().(type) {
			case float64:
				line = strconv.AppendFloat(line, x, 'g', -1, 64)
			case int64:
				line = strconv.AppendInt(line, x, 10)
				line = append(line, 'i')
			case uint64:
				line = strconv.AppendUint(line, x, 10)
				line = append(line, 'u')
			case bool:
				line = strconv.AppendBool(line, x)
			case string:
				line = append(line, '"')
				line = append(line, models.EscapeStringField(x)...)
				line = append(line, '"')
			default:
				return fmt.Errorf("key %q: unexpected value type %T", key, x)
			}
			line = append(line, ' ')
			line = strconv.AppendInt(line, v.UnixNano(), 10)
			line = append(line, '\n')
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---------------------------------------------------------------- stats

type statAcc struct {
	Files              int            `json:"files"`
	TSMBytes           int64          `json:"tsmBytes"`
	Keys               int            `json:"keys"`
	Series             int            `json:"series"`
	Measurements       int            `json:"measurements"`
	Fields             map[string]int `json:"fieldsByType"`
	Blocks             int            `json:"blocks"`
	Values             int            `json:"values"`
	MinTime            int64          `json:"minTime"`
	MaxTime            int64          `json:"maxTime"`
	keys, series, meas map[string]bool
	fields             map[string]map[string]bool
}

func newAcc() *statAcc {
	return &statAcc{MinTime: math.MaxInt64, MaxTime: math.MinInt64, Fields: map[string]int{},
		keys: map[string]bool{}, series: map[string]bool{}, meas: map[string]bool{},
		fields: map[string]map[string]bool{}}
}

var typeNames = map[byte]string{tsm1.BlockFloat64: "float", tsm1.BlockInteger: "integer",
	tsm1.BlockBoolean: "boolean", tsm1.BlockString: "string", tsm1.BlockUnsigned: "unsigned"}

func (a *statAcc) add(key []byte, typ byte, entries []tsm1.IndexEntry, values int) {
	series, field := tsm1.SeriesAndFieldFromCompositeKey(key)
	m := string(models.ParseName(series))
	a.keys[string(key)] = true
	a.series[string(series)] = true
	a.meas[m] = true
	t := typeNames[typ]
	if a.fields[t] == nil {
		a.fields[t] = map[string]bool{}
	}
	a.fields[t][m+"\x1f"+string(field)] = true
	a.Blocks += len(entries)
	a.Values += values
	for _, e := range entries {
		if e.MinTime < a.MinTime {
			a.MinTime = e.MinTime
		}
		if e.MaxTime > a.MaxTime {
			a.MaxTime = e.MaxTime
		}
	}
	a.Keys, a.Series, a.Measurements = len(a.keys), len(a.series), len(a.meas)
	for t, s := range a.fields {
		a.Fields[t] = len(s)
	}
}

func cmdStats(args []string) int {
	fs := flag.NewFlagSet("stats", flag.ExitOnError)
	dataDir := fs.String("datadir", "", "data directory (holds DB/RP/shard/*.tsm)")
	db := fs.String("database", "", "database")
	rp := fs.String("retention", "", "retention policy")
	fs.Parse(args)
	if *dataDir == "" || *db == "" || *rp == "" {
		usage()
	}
	root := filepath.Join(*dataDir, *db, *rp)
	total := newAcc()
	shards := map[string]*statAcc{}
	dirs, err := os.ReadDir(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stats:", err)
		return 1
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		acc := newAcc()
		shards[d.Name()] = acc
		files, _ := filepath.Glob(filepath.Join(root, d.Name(), "*."+tsm1.TSMFileExtension))
		sort.Strings(files)
		for _, path := range files {
			r, err := openReader(path)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
				return 1
			}
			fi, _ := os.Stat(path)
			for _, a := range []*statAcc{acc, total} {
				a.Files++
				a.TSMBytes += fi.Size()
			}
			for i := 0; i < r.KeyCount(); i++ {
				key, typ := r.KeyAt(i)
				entries := r.Entries(key)
				values := 0
				for k := range entries {
					_, b, err := r.ReadBytes(&entries[k], nil)
					if err != nil {
						fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
						return 1
					}
					values += tsm1.BlockCount(b)
				}
				acc.add(key, typ, entries, values)
				total.add(key, typ, entries, values)
			}
			r.Close()
		}
	}
	out, _ := json.MarshalIndent(map[string]interface{}{"total": total, "shards": shards}, "", "  ")
	fmt.Println(string(out))
	return 0
}

// ---------------------------------------------------------------- gen

func cmdGen(args []string) int {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	out := fs.String("out", "", "output file")
	series := fs.Int("series", 0, "number of bulk series (each has 5 fields)")
	points := fs.Int("points", 0, "points per bulk series field")
	block := fs.Int("block", 1000, "values per block")
	edge := fs.Bool("edge", true, "write the edge-case keys first")
	startS := fs.String("start", "2024-01-01T00:00:00Z", "time of the first bulk point (RFC3339)")
	interval := fs.Duration("interval", 10*time.Second, "bulk point interval")
	jitter := fs.Int("jitter", 50, "one bulk point in about this many is late (0: none)")
	seed := fs.Int64("seed", 1, "random seed of the bulk data")
	first := fs.Int("first-series", 0, "number of the first bulk series")
	fs.Parse(args)
	if *out == "" || *block <= 0 || *interval <= 0 || *first < 0 || *jitter < 0 {
		usage()
	}
	start, err := time.Parse(time.RFC3339, *startS)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen: -start:", err)
		return 2
	}
	opt := genOpts{edge: *edge, start: start.UnixNano(), interval: int64(*interval),
		jitter: *jitter, seed: *seed, first: *first}
	keys, blocks, values, err := gen(*out, *series, *points, *block, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		return 1
	}
	fmt.Printf("%s: keys=%d blocks=%d values=%d\n", *out, keys, blocks, values)
	return 0
}

type genKey struct {
	key    string
	blocks [][]tsm1.Value
}

func times(start, step int64, n int) []int64 {
	t := make([]int64, n)
	for i := range t {
		t[i] = start + int64(i)*step
	}
	return t
}

func mk(ts []int64, f func(i int) interface{}) []tsm1.Value {
	v := make([]tsm1.Value, len(ts))
	for i, t := range ts {
		v[i] = tsm1.NewValue(t, f(i))
	}
	return v
}

// edgeKeys covers every block type and every encoding choice the writer
// can make (see docs/formats.md#tsm-timestamps and #tsm-values for when each is chosen).
func edgeKeys() []genKey {
	base := int64(1704067200000000000)
	regular := times(base, 10e9, 50) // RLE timestamps
	irregular := make([]int64, 50)   // packed timestamps
	for i := range irregular {
		irregular[i] = base + int64(i*i)*1000 + int64(i)
	}
	huge := []int64{math.MinInt64 + 1, -1, 1 << 62, math.MaxInt64} // raw timestamps (deltas > 2^60)
	single := []int64{base + 123456789}                            // one value, packed 0x1C
	neg := times(-5e18, 7, 10)                                     // negative times

	return []genKey{
		{"edge,enc=bool#!~#alt", [][]tsm1.Value{mk(irregular, func(i int) interface{} { return i%3 == 0 })}},
		{"edge,enc=bool#!~#eight", [][]tsm1.Value{mk(times(base, 1, 8), func(i int) interface{} { return true })}},
		{"edge,enc=float#!~#const", [][]tsm1.Value{mk(regular, func(i int) interface{} { return 42.0 })}},
		{"edge,enc=float#!~#special", [][]tsm1.Value{mk(times(base, 1, 7), func(i int) interface{} {
			return []float64{math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 5e-324, math.MaxFloat64, 0, -1.5e300}[i]
		})}},
		{"edge,enc=float#!~#walk", [][]tsm1.Value{
			mk(irregular, func(i int) interface{} { return float64(i) * 1.1 }),
			mk(times(base+1e12, 3, 20), func(i int) interface{} { return math.Sqrt(float64(i)) }),
		}},
		{"edge,enc=int#!~#packed", [][]tsm1.Value{mk(irregular, func(i int) interface{} { return int64(i * i * 7) })}},
		{"edge,enc=int#!~#raw", [][]tsm1.Value{mk(huge, func(i int) interface{} {
			return []int64{math.MinInt64, math.MaxInt64, 0, math.MinInt64}[i]
		})}},
		{"edge,enc=int#!~#rle", [][]tsm1.Value{mk(regular, func(i int) interface{} { return int64(5 + 3*i) })}},
		{"edge,enc=int#!~#single", [][]tsm1.Value{mk(single, func(i int) interface{} { return int64(-7) })}},
		{"edge,enc=int#!~#time_neg", [][]tsm1.Value{mk(neg, func(i int) interface{} { return int64(i) })}},
		{"edge,enc=string#!~#mixed", [][]tsm1.Value{mk(irregular, func(i int) interface{} {
			return []string{"", "a", "héllo ☃", strings.Repeat("xyz", 300), "quote\"back\\slash"}[i%5]
		})}},
		{"edge,enc=string#!~#rle", [][]tsm1.Value{mk(regular, func(i int) interface{} { return "same" })}},
		{"edge,enc=uint#!~#big", [][]tsm1.Value{mk(huge, func(i int) interface{} {
			return []uint64{math.MaxUint64, 0, 1 << 63, 12345}[i]
		})}},
		{"edge,enc=uint#!~#packed", [][]tsm1.Value{mk(irregular, func(i int) interface{} { return uint64(i * i * 1000) })}},
		{"edge,enc=uint#!~#rle", [][]tsm1.Value{mk(regular, func(i int) interface{} { return uint64(9) })}},
	}
}

type genOpts struct {
	edge     bool
	start    int64 // ns
	interval int64 // ns
	jitter   int
	seed     int64
	first    int
}

func gen(path string, series, points, block int, opt genOpts) (keys, blocks, values int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	w, err := tsm1.NewTSMWriter(f)
	if err != nil {
		return 0, 0, 0, err
	}
	write := func(key string, vals []tsm1.Value) error {
		blocks++
		values += len(vals)
		return w.Write([]byte(key), vals)
	}
	var edges []genKey
	if opt.edge {
		edges = edgeKeys()
	}
	for _, k := range edges {
		keys++
		for _, b := range k.blocks {
			if err := write(k.key, b); err != nil {
				return 0, 0, 0, err
			}
		}
	}

	// Bulk: sorted keys "sensor,id=NNNNNN#!~#<field>", one point per
	// interval after start, one in about opt.jitter late by up to
	// interval/10 (delays accumulate; such blocks get packed timestamps).
	rnd := rand.New(rand.NewSource(opt.seed))
	fields := []string{"humidity", "ok", "pressure", "status", "temp"}
	step := opt.interval / 10000 // jitter unit: 1 ms at the default 10 s
	if step == 0 {
		step = 1
	}
	for s := opt.first; s < opt.first+series; s++ {
		for _, field := range fields {
			keys++
			key := fmt.Sprintf("sensor,id=%06d#!~#%s", s, field)
			walk := 20 + rnd.Float64()*10
			ival := int64(1000 + rnd.Intn(50))
			t := opt.start
			for done := 0; done < points; done += block {
				n := block
				if points-done < n {
					n = points - done
				}
				vals := make([]tsm1.Value, n)
				for i := range vals {
					t += opt.interval
					if opt.jitter > 0 && rnd.Intn(opt.jitter) == 0 {
						t += int64(rnd.Intn(1000)) * step
					}
					var v interface{}
					switch field {
					case "humidity":
						v = math.Round(rnd.Float64()*1000) / 10
					case "ok":
						v = rnd.Intn(20) != 0
					case "pressure":
						ival += int64(rnd.Intn(5) - 2)
						v = ival
					case "status":
						v = []string{"ok", "warn", "fail", "unknown"}[rnd.Intn(4)]
					case "temp":
						walk += rnd.NormFloat64() * 0.1
						v = math.Round(walk*100) / 100
					}
					vals[i] = tsm1.NewValue(t, v)
				}
				if err := write(key, vals); err != nil {
					return 0, 0, 0, err
				}
			}
		}
	}
	if err := w.WriteIndex(); err != nil {
		return 0, 0, 0, err
	}
	if err := w.Close(); err != nil {
		return 0, 0, 0, err
	}
	return keys, blocks, values, nil
}
