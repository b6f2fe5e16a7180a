// httpbench: the benchmark's Go net/http client (tests/bench/http.sh), so the
// requests carry what Go's client sends, as the influx CLI does (keep-alive,
// no Expect, a file body sent chunked).
//
//	httpbench write -url URL -db DB -start RFC3339 -weeks N -series S -interval D
//	    line protocol written through influxd 1.x's /write, 5,000 lines a request
//	httpbench restore -url URL -token T -enc gzip -streams N ID=FILE...
//	    POST /api/v2/restore/shards/ID per shard (streams in parallel, each
//	    shard after shard on one connection); prints the seconds taken
//	httpbench rps -url URL -token T -n N [-file F -enc E] PATH
//	    N requests on one keep-alive connection (GET, or POST of F); prints
//	    requests per second and the median latency in ms
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "httpbench: "+format+"\n", a...)
	os.Exit(1)
}

func client() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
}

// write generates series x (one point per interval) over weeks x 7 days,
// five fields as the synthetic set has: a float random walk (2 dp), a random
// float (1 dp), an int random walk, a bool and one of four strings.
func write(args []string) {
	fs := flag.NewFlagSet("write", flag.ExitOnError)
	url := fs.String("url", "", "influxd base URL")
	db := fs.String("db", "bench", "database")
	start := fs.String("start", "2024-01-01T00:00:00Z", "first timestamp")
	weeks := fs.Int("weeks", 6, "weeks of data")
	series := fs.Int("series", 250, "series")
	interval := fs.Duration("interval", time.Minute, "point interval")
	fs.Parse(args)
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		die("start: %v", err)
	}
	c := client()
	rng := rand.New(rand.NewSource(1))
	temp := make([]float64, *series)
	pres := make([]int64, *series)
	for i := range temp {
		temp[i] = 20 + rng.Float64()*5
		pres[i] = 1000 + int64(rng.Intn(50))
	}
	status := []string{"ok", "warn", "fail", "maintenance"}
	var buf bytes.Buffer
	lines := 0
	flush := func() {
		if lines == 0 {
			return
		}
		resp, err := c.Post(*url+"/write?db="+*db+"&precision=s", "text/plain", bytes.NewReader(buf.Bytes()))
		if err != nil {
			die("write: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 204 {
			die("write: %d %s", resp.StatusCode, body)
		}
		buf.Reset()
		lines = 0
	}
	end := t0.Add(time.Duration(*weeks) * 7 * 24 * time.Hour)
	total := 0
	for t := t0; t.Before(end); t = t.Add(*interval) {
		ts := strconv.FormatInt(t.Unix(), 10)
		for s := 0; s < *series; s++ {
			temp[s] += rng.NormFloat64() * 0.05
			pres[s] += int64(rng.Intn(3) - 1)
			fmt.Fprintf(&buf, "sensor,id=%06d temp=%.2f,humidity=%.1f,pressure=%di,ok=%t,status=%q %s\n",
				s, temp[s], 30+rng.Float64()*40, pres[s], rng.Intn(50) != 0, status[rng.Intn(4)], ts)
			lines++
			total++
			if lines == 5000 {
				flush()
			}
		}
	}
	flush()
	fmt.Printf("%d lines\n", total)
}

func restoreOne(c *http.Client, url, token, enc, id, file string) {
	f, err := os.Open(file)
	if err != nil {
		die("%v", err)
	}
	defer f.Close()
	// Like the influx CLI: the open file as the body (no length known to
	// net/http, so it goes chunked), Content-Encoding from the archive.
	req, _ := http.NewRequest("POST", url+"/api/v2/restore/shards/"+id, bufio.NewReaderSize(f, 1<<16))
	req.Header.Set("Authorization", "Token "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	resp, err := c.Do(req)
	if err != nil {
		die("restore %s: %v", id, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 204 {
		die("restore %s: %d %s", id, resp.StatusCode, body)
	}
}

func restore(args []string) {
	fs := flag.NewFlagSet("restore", flag.ExitOnError)
	url := fs.String("url", "", "tsvault base URL")
	token := fs.String("token", "", "token")
	enc := fs.String("enc", "gzip", "Content-Encoding")
	streams := fs.Int("streams", 1, "parallel streams")
	fs.Parse(args)
	jobs := fs.Args()
	t := time.Now()
	var wg sync.WaitGroup
	for s := 0; s < *streams; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			c := client()
			for i := s; i < len(jobs); i += *streams {
				kv := strings.SplitN(jobs[i], "=", 2)
				restoreOne(c, *url, *token, *enc, kv[0], kv[1])
			}
		}(s)
	}
	wg.Wait()
	fmt.Printf("%.4f\n", time.Since(t).Seconds())
}

func rps(args []string) {
	fs := flag.NewFlagSet("rps", flag.ExitOnError)
	url := fs.String("url", "", "base URL")
	token := fs.String("token", "", "token")
	n := fs.Int("n", 200, "requests")
	file := fs.String("file", "", "POST this file as the body")
	enc := fs.String("enc", "", "Content-Encoding of the body")
	fs.Parse(args)
	path := fs.Arg(0)
	var body []byte
	if *file != "" {
		var err error
		if body, err = os.ReadFile(*file); err != nil {
			die("%v", err)
		}
	}
	c := client()
	lat := make([]float64, 0, *n)
	t0 := time.Now()
	for i := 0; i < *n; i++ {
		var req *http.Request
		if body != nil {
			req, _ = http.NewRequest("POST", *url+path, bytes.NewReader(body))
			if *enc != "" {
				req.Header.Set("Content-Encoding", *enc)
			}
		} else {
			req, _ = http.NewRequest("GET", *url+path, nil)
		}
		if *token != "" {
			req.Header.Set("Authorization", "Token "+*token)
		}
		t := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			die("%s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			die("%s: status %d", path, resp.StatusCode)
		}
		lat = append(lat, time.Since(t).Seconds()*1e3)
	}
	el := time.Since(t0).Seconds()
	sort.Float64s(lat)
	fmt.Printf("%.1f %.2f\n", float64(*n)/el, lat[len(lat)/2])
}

func main() {
	if len(os.Args) < 2 {
		die("usage: httpbench write|restore|rps ...")
	}
	switch os.Args[1] {
	case "write":
		write(os.Args[2:])
	case "restore":
		restore(os.Args[2:])
	case "rps":
		rps(os.Args[2:])
	default:
		die("unknown command %q", os.Args[1])
	}
}
