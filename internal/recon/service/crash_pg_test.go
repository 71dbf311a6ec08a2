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
	wants, batches := crashWorkload(t, f, rng, 30)

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
							id, err := psi.ParseID(v.ID)
							if err != nil {
								t.Errorf("upload answered stored for id %q: %v", v.ID, err)
							}
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
	checkCrashStore(t, st, wants)
	for name := range wants {
		// The reveal the instances stored is whole JSON of some moment.
		if rv, err := st.Reveal(context.Background(), name); err != nil || (rv != nil && !bytes.HasPrefix(rv, []byte(`{"at":`))) {
			t.Errorf("%s: stored reveal %.40q, %v", name, rv, err)
		}
	}
}
