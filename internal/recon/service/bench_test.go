package service

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkIngest uploads batches of 10 vouchers (fresh ids, so each is
// stored) from 16 concurrent clients over loopback into a real store file,
// and reports vouchers/s and the upload latency percentiles.
func BenchmarkIngest(b *testing.B) {
	f := newFixture(b, "bench", 1, 16)
	h := newHarness(b, f, nil)
	pool := f.vouchers(b, newAccount(b, "bench"), 0, 0, 8, 24, 0, "bench")
	const batch = 10
	var idc atomic.Uint64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(8) // 8 × GOMAXPROCS clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		client := &http.Client{Transport: &http.Transport{}}
		var mine []time.Duration
		for pb.Next() {
			vs := make([][]byte, batch)
			for i := range vs {
				v := bytes.Clone(pool[int(idc.Load())%len(pool)])
				binary.BigEndian.PutUint64(v[16:], idc.Add(1))
				vs[i] = v
			}
			req, _ := http.NewRequest("POST", h.http.URL+"/v1/accounts/alice/vouchers", bytes.NewReader(streamOf(b, "", vs)))
			req.Header.Set("Authorization", "Bearer "+tokAlice)
			req.Header.Set("Content-Type", ContentTypeStream)
			t := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(t))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat)*batch)/elapsed.Seconds(), "vouchers/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1e3, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1e3, "p99-ms")
}
