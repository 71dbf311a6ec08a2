package service

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vouchsafe/vouchsafe/internal/recon/store"
	"github.com/vouchsafe/vouchsafe/internal/recon/store/pgtest"
)

// TestInstancesShareDatabase runs three instances on one database: uploads
// to any instance, concurrent ones included, count each voucher once; the
// scheduled reveal run by all instances at once reveals each changed
// account exactly once; every instance answers the same counts and reveal.
func TestInstancesShareDatabase(t *testing.T) {
	srv := pgtest.New(t)
	url, err := srv.CreateDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "instances", 1, 8)
	hs := []*harness{pgHarness(t, f, url, nil, nil), pgHarness(t, f, url, nil, nil), pgHarness(t, f, url, nil, nil)}

	accounts := []struct {
		name, token string
		members     int
	}{{"alice", tokAlice, 5}, {"bob", tokBob, 2}, {"carol", tokGate, 4}, {"dave", tokGate, 0}}
	sent := map[string][][]byte{}
	var wg sync.WaitGroup
	for _, a := range accounts {
		vs := f.vouchers(t, newAccount(t, a.name), 0, 0, a.members, 6, 0.2, a.name)
		sent[a.name] = vs
		// Every instance gets the whole set at once, in batches of 3: each
		// id is stored by whichever instance commits it first.
		for i, h := range hs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < len(vs); j += 3 {
					k := (j + 3*i) % len(vs) // each instance starts elsewhere
					part := vs[k:min(k+3, len(vs))]
					code, res := h.upload(a.name, a.token, part)
					if code != http.StatusOK || res.Stored+res.Duplicate != len(part) {
						t.Errorf("%s via instance %d: %d %+v", a.name, i, code, res)
					}
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	stored := 0.0
	for _, h := range hs {
		stored += h.svc.m.value(h.svc.mVouchers, StatusStored)
	}
	total := 0
	for _, vs := range sent {
		total += len(vs)
	}
	if int(stored) != total {
		t.Errorf("instances answered %v vouchers stored, %d were sent", stored, total)
	}

	// All instances run the scheduled reveal at the same moment.
	counts := make([]int, len(hs))
	for round := range 2 {
		for i, h := range hs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := h.svc.RevealAll(context.Background())
				if err != nil {
					t.Error(err)
				}
				counts[i] = n
			}()
		}
		wg.Wait()
		sum, reveals := 0, 0.0
		for i, h := range hs {
			sum += counts[i]
			for _, r := range []string{"above", "below", "error"} {
				reveals += h.svc.m.value(h.svc.mReveals, r)
			}
		}
		// Round 0 reveals every account once; round 1 finds nothing changed.
		if want := len(accounts); sum != want*(1-round) || int(reveals) != want {
			t.Fatalf("round %d: instances revealed %v accounts (%v reveals in all), want %d once", round, counts, reveals, want)
		}
	}

	// The store gauges read the same from every instance.
	var gauges string
	for i, h := range hs {
		code, b := h.do("GET", "/metrics", tokOps, "", nil)
		if code != http.StatusOK {
			t.Fatalf("metrics via %d: %d", i, code)
		}
		var g []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "vouchsafe_store_") && !strings.HasPrefix(line, "vouchsafe_store_retries") {
				g = append(g, line)
			}
		}
		if i == 0 {
			gauges = strings.Join(g, "\n")
			if !strings.Contains(gauges, "vouchsafe_store_accounts 4") {
				t.Errorf("store gauges:\n%s", gauges)
			}
		} else if got := strings.Join(g, "\n"); got != gauges {
			t.Errorf("instance %d's store gauges:\n%s\ninstance 0's:\n%s", i, got, gauges)
		}
	}

	// Every instance shows the same state, and it is the library's.
	for _, a := range accounts {
		var first []byte
		for i, h := range hs {
			code, b := h.do("GET", "/v1/accounts/"+a.name, tokOps, "", nil)
			if code != http.StatusOK {
				t.Fatalf("%s via %d: %d %s", a.name, i, code, b)
			}
			if i == 0 {
				first = b
			} else if !bytes.Equal(b, first) {
				t.Errorf("%s: instance %d answers %s, instance 0 %s", a.name, i, b, first)
			}
		}
		// A reveal on request from one instance, checked against the
		// library and then seen from another.
		want := sameAsLibrary(t, hs[len(a.name)%3], a.name, sent[a.name])
		_, rv := hs[(len(a.name)+1)%3].account(a.name)
		if rv == nil || !rv.At.Equal(want.At) || rv.AboveThreshold != want.AboveThreshold || len(rv.Revealed) != len(want.Revealed) {
			t.Errorf("%s: reveal seen from another instance %+v, want %+v", a.name, rv, want)
		}
	}
}

// TestDatabaseDown checks the answers while PostgreSQL is down: an upload
// gets 503 with Retry-After once the store gives up retrying, and nothing is
// stored; the same upload after the server is back is stored.
func TestDatabaseDown(t *testing.T) {
	srv := pgtest.New(t)
	url, err := srv.CreateDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "down", 1, 4)
	h := pgHarness(t, f, url, &store.PostgresOptions{RetryFor: 300 * time.Millisecond}, nil)

	vs := f.vouchers(t, newAccount(t, "alice"), 0, 0, 2, 2, 0, "down")
	if err := srv.Halt(); err != nil {
		t.Fatal(err)
	}
	resp, _ := h.send("POST", "/v1/accounts/alice/vouchers", tokAlice, ContentTypeStream, bytes.NewReader(streamOf(t, "", vs)))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("upload with the database down: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code, b := h.do("GET", "/v1/accounts/alice", tokOps, "", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("account view with the database down: %d %s", code, b)
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	if code, res := h.upload("alice", tokAlice, vs); code != http.StatusOK || res.Stored != len(vs) {
		t.Fatalf("the retried upload: %d %+v", code, res)
	}
}
