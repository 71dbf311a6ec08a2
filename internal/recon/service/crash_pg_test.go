package service

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/recon/store"
	"github.com/vouchsafe/vouchsafe/internal/recon/store/pgtest"
	"github.com/vouchsafe/vouchsafe/psi"
)

// TestCrashSafetyPostgres runs three `vouchsafe serve` processes on one
// PostgreSQL database with the scheduled reveal on, and four clients
// uploading to random instances, while it SIGKILLs random instances (and
// restarts them) and crashes PostgreSQL itself (pg_ctl restart -m
// immediate). Clients retry every upload that got no answer or a 503, and
// keep re-sending acknowledged uploads, which must then store nothing.
// Afterwards each account's counts and stored match ids are exactly the
// expected sets, and no voucher was answered "stored" twice.
func TestCrashSafetyPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the vouchsafe command and PostgreSQL; skipped with -short")
	}
	pg := pgtest.New(t)
	url, err := pg.CreateDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	bin := buildVouchsafe(t)
	f := newFixture(t, "pgcrash", 2, 8)
	args := []string{"--store", url, "--key", f.epochs[0].keyFile, "--key", f.epochs[1].keyFile,
		"--tokens", f.tokensFile, "--rate", "0", "--reveal-interval", "200ms", "--workers", "1"}

	rng := rand.New(rand.NewPCG(13, 2026))
	srv := f.server(t)
	type want struct {
		ids, matches map[psi.ID]bool
		nonMatches   int
	}
	wants := map[string]*want{}
	var batches []*crashBatch
	for _, acct := range []struct{ name, token string }{{"alice", tokAlice}, {"bob", tokBob}, {"carol", tokGate}} {
		a := newAccount(t, acct.name)
		vs := f.vouchers(t, a, 0, 0, 5, 30, 0.1, acct.name+"0")
		vs = append(vs, f.vouchers(t, a, 1, 2, 4, 30, 0.1, acct.name+"1")...)
		w := &want{ids: map[psi.ID]bool{}, matches: map[psi.ID]bool{}}
		for _, r := range srv.MatchBatch(vs, 2) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			w.ids[r.Header.ID] = true
			if r.Record != nil {
				w.matches[r.Header.ID] = true
			} else {
				w.nonMatches++
			}
		}
		wants[acct.name] = w
		for i := 0; i < len(vs); {
			n := 1 + rng.IntN(4)
			part := vs[i:min(i+n, len(vs))]
			if i > 0 && rng.IntN(5) == 0 {
				part = append(bytes2(part), vs[rng.IntN(i)]) // an earlier voucher again
			}
			b := &crashBatch{account: acct.name, token: acct.token, body: streamOf(t, "", part)}
			for _, v := range part {
				hd, _ := psi.ParseVoucherHeader(v)
				b.ids = append(b.ids, hd.ID)
			}
			batches = append(batches, b)
			i += n
		}
	}
	rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })

	var mu sync.Mutex // guards procs, acked, storedAnswers and the counters
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = startServe(t, bin, args...)
	}
	queue := make(chan *crashBatch, len(batches))
	for _, b := range batches {
		queue <- b
	}
	var acked []*crashBatch
	storedAnswers := map[psi.ID]int{}
	attempts, failed, replays := 0, 0, 0
	var inflight atomic.Int32
	var stop atomic.Bool
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			crng := rand.New(rand.NewPCG(uint64(c), 7))
			client := &http.Client{Transport: &http.Transport{}, Timeout: 60 * time.Second}
			defer client.CloseIdleConnections()
			for !stop.Load() {
				var b *crashBatch
				replay := false
				select {
				case b = <-queue:
				default:
					mu.Lock()
					if len(acked) > 0 {
						b, replay = acked[crng.IntN(len(acked))], true
					}
					mu.Unlock()
					if b == nil {
						time.Sleep(time.Millisecond)
						continue
					}
				}
				mu.Lock()
				addr := procs[crng.IntN(len(procs))].addr
				mu.Unlock()
				inflight.Add(1)
				res, err := post(client, addr, b)
				inflight.Add(-1)
				mu.Lock()
				attempts++
				switch {
				case err != nil:
					failed++
					if !replay {
						queue <- b
					}
				case res.Stored+res.Duplicate != len(b.ids):
					t.Errorf("upload answered %+v", res)
				case replay && res.Stored != 0:
					t.Errorf("a repeated acknowledged upload stored %d vouchers", res.Stored)
				default:
					for _, v := range res.Vouchers {
						if v.Status == StatusStored {
							id, _ := psi.ParseID(v.ID)
							storedAnswers[id]++
						}
					}
					if replay {
						replays++
					} else {
						acked = append(acked, b)
					}
				}
				mu.Unlock()
			}
		}()
	}

	// Chaos until every upload is acknowledged and enough of both kinds of
	// crash happened; the pauses are pseudo-random.
	const minKills, minRestarts = 8, 3
	kills, restarts, restartsMidUpload := 0, 0, 0
	for action := 0; ; action++ {
		mu.Lock()
		done := len(acked) == len(batches)
		mu.Unlock()
		if done && kills >= minKills && restarts >= minRestarts {
			break
		}
		if action > 300 {
			t.Fatalf("%d of %d uploads acknowledged after %d crashes", len(acked), len(batches), action)
		}
		time.Sleep(time.Duration(20+rng.IntN(250)) * time.Millisecond)
		if action%4 == 3 {
			if inflight.Load() > 0 {
				restartsMidUpload++
			}
			if err := pg.Restart(); err != nil {
				t.Fatal(err)
			}
			restarts++
			continue
		}
		i := rng.IntN(len(procs))
		mu.Lock()
		p := procs[i]
		mu.Unlock()
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		np := startServe(t, bin, args...)
		mu.Lock()
		procs[i] = np
		mu.Unlock()
		kills++
	}
	stop.Store(true)
	wg.Wait()
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-p.done; err != nil {
			t.Errorf("serve exited with %v\n%s", err, p.stderr)
		}
	}
	t.Logf("%d uploads in %d attempts (%d failed, %d acknowledged uploads repeated) through %d SIGKILLs and %d PostgreSQL crashes (%d with uploads in flight)",
		len(batches), attempts, failed, replays, kills, restarts, restartsMidUpload)
	if failed == 0 {
		t.Error("no upload failed: the crashes interrupted nothing")
	}
	if restartsMidUpload == 0 {
		t.Error("no PostgreSQL crash happened during an upload")
	}
	for id, n := range storedAnswers {
		if n > 1 {
			t.Errorf("voucher %s answered stored %d times", id, n)
		}
	}

	st, err := store.OpenPostgres(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, w := range wants {
		c, ok, err := st.Counts(context.Background(), name)
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", name, ok, err)
		}
		wc := store.Counts{Vouchers: uint64(len(w.ids)), Matches: uint64(len(w.matches)), NonMatches: uint64(w.nonMatches)}
		if c != wc {
			t.Errorf("%s: counts %+v, want %+v", name, c, wc)
		}
		recs, err := st.Records(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		got := map[psi.ID]bool{}
		for _, b := range recs {
			var r psi.MatchRecord
			if err := r.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if got[r.ID] {
				t.Errorf("%s: match %s stored twice", name, r.ID)
			}
			got[r.ID] = true
		}
		if len(got) != len(w.matches) {
			t.Errorf("%s: %d match records, want %d", name, len(got), len(w.matches))
		}
		for id := range w.matches {
			if !got[id] {
				t.Errorf("%s: match %s lost", name, id)
			}
		}
		// The reveal the instances stored is whole JSON of some moment.
		if rv, err := st.Reveal(context.Background(), name); err != nil || (rv != nil && !bytes.HasPrefix(rv, []byte(`{"at":`))) {
			t.Errorf("%s: stored reveal %.40q, %v", name, rv, err)
		}
	}
}
