// Command vsload is a bounded load test of the reconstructor service
// (vouchsafe serve): it starts the service in-process on a loopback port
// with a fresh store file, drives it with many concurrent HTTP clients
// uploading voucher batches, and reports ingest throughput, request latency
// percentiles, and memory as the store grows.
//
//	vsload [-clients 32] [-batch 10] [-vouchers 100000] [-accounts 1000]
//	vsload -store postgres://… | -postgres-temp  [-instances 3] …
//
// With a PostgreSQL store, -instances services (each with its own
// connection pool, as separate processes would have) share the database and
// the clients spread their uploads over them round-robin. -postgres-temp
// starts a throwaway server (internal/recon/store/pgtest) for the run.
//
// Vouchers are made once (a pool against a fresh table with the default
// parameters t = 30, s = 60, AD_LEN = 4096) and reused: most uploaded copies
// get a fresh id, which makes them non-matches that cost the server the same
// work as any voucher (protocol.md §4.1); every tenth slot carries an
// unmodified pool voucher, a match stored with its record.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vouchsafe/vouchsafe/internal/recon/service"
	"github.com/vouchsafe/vouchsafe/internal/recon/store"
	"github.com/vouchsafe/vouchsafe/internal/recon/store/pgtest"
	"github.com/vouchsafe/vouchsafe/psi"
)

func main() {
	clients := flag.Int("clients", 32, "concurrent HTTP clients")
	batch := flag.Int("batch", 10, "vouchers per upload")
	total := flag.Int("vouchers", 100000, "vouchers to upload in all")
	accounts := flag.Int("accounts", 1000, "accounts the uploads are spread over")
	pool := flag.Int("pool", 256, "distinct vouchers generated")
	members := flag.Int("members", 1000, "hashes in the table")
	storePath := flag.String("store", "", "store file or postgres:// URL (default: a new file in a temporary folder)")
	pgTemp := flag.Bool("postgres-temp", false, "start a throwaway PostgreSQL server and use it as the store")
	instances := flag.Int("instances", 1, "services sharing the store (PostgreSQL only beyond 1)")
	checkpoints := flag.Int("checkpoints", 5, "memory reports while the store grows")
	flag.Parse()
	if *clients < 1 || *batch < 1 || *total < *batch || *pool < 1 || *accounts < 1 || *instances < 1 {
		log.Fatal("vsload: flags must be positive")
	}

	fmt.Printf("vsload: %d CPUs (GOMAXPROCS %d), %s/%s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	start := time.Now()
	hashes := make([]psi.Hash, *members)
	for i := range hashes {
		rand.Read(hashes[i][:])
	}
	built, err := psi.BuildTable(rand.Reader, hashes, psi.TableOptions{Params: psi.DefaultParams, Epoch: 1})
	check(err)
	acct, err := psi.NewAccount(rand.Reader, "vsload")
	check(err)
	cl, err := psi.NewClient(built.Table, acct, &psi.ClientOptions{SyntheticRate: 0})
	check(err)
	trs := make([]psi.Triple, *pool)
	for i := range trs {
		trs[i].Hash = hashes[i%len(hashes)]
		if i%2 == 1 {
			rand.Read(trs[i].Hash[:]) // a non-member
		}
		trs[i].ID, _ = psi.NewID(rand.Reader)
		trs[i].Derivative = make([]byte, 2048)
		rand.Read(trs[i].Derivative)
	}
	vouchers, err := cl.Vouchers(rand.Reader, trs)
	check(err)
	fmt.Printf("table of %d hashes and %d vouchers of %d bytes made in %v\n", *members, *pool, len(vouchers[0]), time.Since(start).Round(time.Millisecond))

	dir, err := os.MkdirTemp("", "vsload")
	check(err)
	defer os.RemoveAll(dir)
	if *pgTemp {
		pgs, err := pgtest.Start()
		check(err)
		defer pgs.Stop()
		*storePath, err = pgs.CreateDB(context.Background())
		check(err)
	}
	if *storePath == "" {
		*storePath = filepath.Join(dir, "store.db")
	}
	isPG := store.IsPostgresURL(*storePath)
	if !isPG && *instances > 1 {
		log.Fatal("vsload: a store file serves one instance; -instances needs a postgres:// store")
	}
	const token = "vsload-token-0123456789"
	toks, err := service.ParseTokens(strings.NewReader("load ingest " + token + " *\n"))
	check(err)
	srv, err := psi.NewServer(built.Key)
	check(err)
	var stores []store.Store
	var urls []string
	var servers []*http.Server
	for range *instances {
		var st store.Store
		if isPG {
			st, err = store.OpenPostgres(context.Background(), *storePath, nil)
		} else {
			st, err = store.Open(*storePath, nil)
		}
		check(err)
		stores = append(stores, st)
		svc, err := service.New(service.Config{Server: srv, Store: st, Tokens: toks, MaxBatch: max(*batch, service.DefaultMaxBatch)})
		check(err)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		check(err)
		hs := &http.Server{Handler: svc}
		go hs.Serve(ln)
		servers = append(servers, hs)
		urls = append(urls, "http://"+ln.Addr().String())
	}
	size := func() int64 {
		switch st := stores[0].(type) {
		case *store.Bolt:
			return st.Size()
		case *store.Postgres:
			n, err := st.Size(context.Background())
			check(err)
			return n
		}
		return 0
	}

	requests := *total / *batch
	var stored, dups, rejected, done atomic.Int64
	var idc atomic.Uint64
	nextReport := int64(requests / max(*checkpoints, 1))
	var repMu sync.Mutex
	lastT, lastN := time.Now(), int64(0)
	report := func(n int64) {
		repMu.Lock()
		defer repMu.Unlock()
		now := time.Now()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rate := float64((n-lastN)*int64(*batch)) / now.Sub(lastT).Seconds()
		anon, file := rss()
		fmt.Printf("  %8d vouchers  store %7.1f MB  heap in use %5.1f MB  RSS anon %5.1f MB + file %6.1f MB  %6.0f vouchers/s\n",
			n*int64(*batch), float64(size())/1e6, float64(ms.HeapInuse)/1e6, anon, file, rate)
		lastT, lastN = now, n
	}
	storeName := *storePath
	if isPG {
		storeName = store.RedactURL(storeName)
	}
	fmt.Printf("%d clients, %d uploads of %d vouchers over %d accounts, loopback HTTP, %d instance(s), store %s\n", *clients, requests, *batch, *accounts, *instances, storeName)
	report(0)
	initial := size()
	// *clients goroutines upload, each as a separate uploader would: its own
	// connection (one idle connection per host), buffer and latencies, and
	// the next upload from a shared counter. The first failure stops the run.
	type client struct {
		hc  *http.Client
		buf bytes.Buffer
		lat []time.Duration
	}
	cls := make([]*client, *clients)
	for i := range cls {
		cls[i] = &client{hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}}
	}
	g, ctx := errgroup.WithContext(context.Background())
	var next atomic.Int64
	t0 := time.Now()
	for _, c := range cls {
		g.Go(func() error {
			for {
				r := next.Add(1) - 1
				if r >= int64(requests) || ctx.Err() != nil {
					return nil
				}
				c.buf.Reset()
				w, _ := psi.NewVoucherWriter(&c.buf, "")
				for i := 0; i < *batch; i++ {
					k := int(r)*(*batch) + i
					v := vouchers[k%len(vouchers)]
					if k%10 != 0 {
						v = bytes.Clone(v)
						binary.BigEndian.PutUint64(v[16:], idc.Add(1))       // a fresh id
						binary.BigEndian.PutUint64(v[24:], 0x5653_4c4f_4144) // "VSLOAD"
					}
					w.Write(v)
				}
				w.Flush()
				req, err := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("%s/v1/accounts/acct-%d/vouchers", urls[r%int64(len(urls))], r%int64(*accounts)), bytes.NewReader(c.buf.Bytes()))
				if err != nil {
					return err
				}
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", service.ContentTypeStream)
				t := time.Now()
				resp, err := c.hc.Do(req)
				if err != nil {
					return err
				}
				var res service.IngestResult
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || json.Unmarshal(body, &res) != nil {
					return fmt.Errorf("upload: %d %s", resp.StatusCode, body)
				}
				c.lat = append(c.lat, time.Since(t))
				stored.Add(int64(res.Stored))
				dups.Add(int64(res.Duplicate))
				rejected.Add(int64(res.Rejected))
				if n := done.Add(1); nextReport > 0 && n%nextReport == 0 {
					report(n)
				}
			}
		})
	}
	check(g.Wait())
	elapsed := time.Since(t0)
	var all []time.Duration
	for _, c := range cls {
		all = append(all, c.lat...)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	n := requests * *batch
	fmt.Printf("ingested %d vouchers (%d stored, %d duplicate, %d rejected) in %v: %.0f vouchers/s, %.0f uploads/s\n",
		n, stored.Load(), dups.Load(), rejected.Load(), elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), float64(requests)/elapsed.Seconds())
	fmt.Printf("upload latency (%d vouchers each): p50 %v  p99 %v  max %v\n", *batch, pct(.50).Round(10*time.Microsecond), pct(.99).Round(10*time.Microsecond), all[len(all)-1].Round(10*time.Microsecond))
	final := size()
	fmt.Printf("store size %.1f MB (%.1f MB before the run): %.0f bytes per stored voucher, %.0f MB per 10^6\n",
		float64(final)/1e6, float64(initial)/1e6, float64(final-initial)/float64(max(stored.Load(), 1)), float64(final-initial)/float64(max(stored.Load(), 1)))
	if pgs, ok := stores[0].(*store.Postgres); ok {
		sizes, err := pgs.TableSizes(context.Background())
		check(err)
		for _, ts := range sizes {
			fmt.Printf("  table %-13s %9d rows %9.1f MB  %6.0f bytes per row\n", ts.Table, ts.Rows, float64(ts.Bytes)/1e6, float64(ts.Bytes)/float64(max(ts.Rows, 1)))
		}
	}
	for i, hs := range servers {
		hs.Close()
		check(stores[i].Close())
	}
}

// rss reads the resident set size from /proc in MB, split into anonymous
// memory (the heap, stacks) and file pages (the store's read-only mmap,
// which the kernel can drop at will); zeros where there is no /proc.
func rss() (anon, file float64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for _, k := range []struct {
			name string
			v    *float64
		}{{"RssAnon:", &anon}, {"RssFile:", &file}} {
			if v, ok := strings.CutPrefix(sc.Text(), k.name); ok {
				var kb float64
				fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
				*k.v = kb / 1e3
			}
		}
	}
	return anon, file
}

func check(err error) {
	if err != nil {
		log.Fatal("vsload: ", err)
	}
}
