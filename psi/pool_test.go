package psi

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestForChunksCoversOnce(t *testing.T) {
	for _, n := range []uint64{0, 1, 5, maxChunk - 1, maxChunk, maxChunk + 1, 5*maxChunk + 3} {
		for _, workers := range []int{-1, 0, 1, 3, 8} {
			var mu sync.Mutex
			seen := make([]int, n)
			err := forChunks(n, workers, func(lo, hi uint64) error {
				if lo >= hi || hi > n || hi-lo > maxChunk {
					return fmt.Errorf("range [%d, %d) of %d", lo, hi, n)
				}
				mu.Lock()
				defer mu.Unlock()
				for i := lo; i < hi; i++ {
					seen[i]++
				}
				return nil
			})
			if err != nil {
				t.Fatalf("n=%d workers=%d: %v", n, workers, err)
			}
			for i, c := range seen {
				if c != 1 {
					t.Fatalf("n=%d workers=%d: index %d visited %d times", n, workers, i, c)
				}
			}
		}
	}
}

// With one worker the chunks run in order, so the first error is the only
// one and no chunk after it starts.
func TestForChunksStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	var started []uint64
	err := forChunks(10*maxChunk, 1, func(lo, hi uint64) error {
		started = append(started, lo/maxChunk)
		if lo/maxChunk == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	if want := []uint64{0, 1, 2, 3}; !slices.Equal(started, want) {
		t.Fatalf("chunks started %v, want %v", started, want)
	}
}

// Two ranges fail, the higher one first in time: the error is the lower
// one's, as it would be with one worker.
func TestForChunksLowestError(t *testing.T) {
	low, high := errors.New("range 3"), errors.New("range 7")
	highFailed := make(chan struct{})
	err := forChunks(10*maxChunk, 8, func(lo, hi uint64) error {
		switch lo / maxChunk {
		case 3:
			<-highFailed
			return low
		case 7:
			close(highFailed)
			return high
		}
		return nil
	})
	if err != low {
		t.Fatalf("error %v, want %v", err, low)
	}
}

// A table whose slot is off the curve parses (lazy mode); Vouchers must
// return the error of a triple that uses the slot, by its index: the
// lowest such index, whichever worker fails first.
func TestVouchersError(t *testing.T) {
	f := newFixture(t, "pool-err", small, 40)
	raw := bytes.Clone(f.table.Bytes())
	var pos [maxD]uint64
	slotsOf(&f.members[0], f.table.nonces, f.table.slots, pos[:f.table.d])
	bad := pos[0]
	copy(raw[uint64(f.table.HeaderSize())+bad*pointSize:], offCurvePoint())
	tb, err := ParseTable(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(tb, f.account, &ClientOptions{SyntheticRate: 0, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	var trs []Triple
	for i := 1; len(trs) < 30; i++ {
		y := hashN("pool-err/other", i)
		slotsOf(&y, tb.nonces, tb.slots, pos[:tb.d])
		if !slices.Contains(pos[:tb.d], bad) {
			trs = append(trs, Triple{Hash: y, ID: idN("pool-err", i)})
		}
	}
	const at = 17
	trs = slices.Insert(trs, at, Triple{Hash: f.members[0], ID: idN("pool-err", 0)})
	trs = slices.Insert(trs, at+1, Triple{Hash: f.members[0], ID: idN("pool-err", -1)})
	vs, err := c.Vouchers(drbg("pool-err/v"), trs)
	if !errors.Is(err, ErrPoint) || vs != nil {
		t.Fatalf("Vouchers = %d vouchers, %v; want none and %v", len(vs), err, ErrPoint)
	}
	if want := fmt.Sprintf("triple %d:", at); !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %q does not start with %q", err, want)
	}
}

// MatchBatch keeps one result per voucher, in input order, whatever the
// number of workers; invalid vouchers get their own error and stop nothing.
func TestMatchBatchOrder(t *testing.T) {
	f := newFixture(t, "pool-mb", small, 20)
	c := f.client(t, 0)
	var vs [][]byte
	for i := range 24 {
		y := f.members[i%len(f.members)]
		if i%3 == 1 {
			y = hashN("pool-mb/non", i)
		}
		v, err := c.Voucher(drbg(fmt.Sprint("pool-mb/", i)), &Triple{Hash: y, ID: idN("pool-mb", i)})
		if err != nil {
			t.Fatal(err)
		}
		switch i % 4 {
		case 2:
			v = v[:len(v)-1] // wrong length
		case 3:
			v = v[:10] // no header
		}
		vs = append(vs, v)
	}
	want := make([]MatchResult, len(vs))
	for i, v := range vs {
		want[i].Header, _ = ParseVoucherHeader(v)
		want[i].Record, want[i].Err = f.server.Match(v)
	}
	var matches, invalid int
	for _, r := range want {
		if r.Record != nil {
			matches++
		}
		if r.Err != nil {
			invalid++
		}
	}
	if matches == 0 || invalid == 0 || matches+invalid == len(vs) {
		t.Fatalf("fixture: %d matches, %d invalid of %d", matches, invalid, len(vs))
	}
	for _, workers := range []int{-1, 0, 1, 2, 5, 100} {
		got := f.server.MatchBatch(vs, workers)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("workers=%d: MatchBatch differs from Match one by one", workers)
		}
	}
	if got := f.server.MatchBatch(nil, 0); len(got) != 0 {
		t.Fatalf("MatchBatch(nil) = %d results", len(got))
	}
}

// BenchmarkBuildTable is BuildTable on all cores (-cpu sets them) for a
// table of about 4000 slots, the parallel counterpart of
// BenchmarkBuildTablePerSlot.
func BenchmarkBuildTable(b *testing.B) {
	xs := make([]Hash, 3000)
	for i := range xs {
		xs[i] = hashN("bench-build-all", i)
	}
	var slots uint64
	for b.Loop() {
		r, err := BuildTable(drbg("bba"), xs, TableOptions{Params: small})
		if err != nil {
			b.Fatal(err)
		}
		slots = r.Table.Slots()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(slots)/1000, "µs/slot")
}

// BenchmarkValidate is Validate on all cores for the same table.
func BenchmarkValidate(b *testing.B) {
	xs := make([]Hash, 3000)
	for i := range xs {
		xs[i] = hashN("bench-build-all", i)
	}
	r, err := BuildTable(drbg("bba"), xs, TableOptions{Params: small})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := r.Table.Validate(0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(r.Table.Slots())/1000, "µs/slot")
}
