package psi_test

import (
	"crypto/sha256"
	"fmt"
	"log"
	"math/rand/v2"
	"slices"

	"github.com/vouchsafe/vouchsafe/psi"
)

// The whole protocol in one process: the server builds a table from the
// hashes it looks for; a client turns each photo's (hash, id, derivative)
// into a voucher; the server keeps the vouchers that match and, once an
// account holds more than t real matches, Reveal decrypts those and only
// those. Real deployments use crypto/rand.Reader; a seeded stream keeps the
// example's output fixed.
func Example() {
	rnd := rand.NewChaCha8(sha256.Sum256([]byte("psi example")))
	hashOf := func(s string) psi.Hash {
		sum := sha256.Sum256([]byte(s))
		return psi.Hash(sum[:psi.HashSize])
	}

	// Server: a table of 8 hashes with threshold t = 3 (4 matches reveal).
	params := psi.Params{T: 3, S: 6, ADLen: 64}
	var wanted []psi.Hash
	for i := range 8 {
		wanted = append(wanted, hashOf(fmt.Sprint("wanted ", i)))
	}
	built, err := psi.BuildTable(rnd, wanted, psi.TableOptions{Params: params, Epoch: 1})
	if err != nil {
		log.Fatal(err)
	}
	server, err := psi.NewServer(built.Key)
	if err != nil {
		log.Fatal(err)
	}

	// Client: one account, five photos of which four are in the table. A
	// synthetic rate of 0 keeps the output fixed; clients use
	// psi.DefaultSyntheticRate.
	account, err := psi.NewAccount(rnd, "alice")
	if err != nil {
		log.Fatal(err)
	}
	client, err := psi.NewClient(built.Table, account, &psi.ClientOptions{SyntheticRate: 0})
	if err != nil {
		log.Fatal(err)
	}
	photos := []psi.Hash{wanted[0], wanted[1], hashOf("holiday"), wanted[2], wanted[3]}

	// Server: match each voucher on arrival and keep only the matches.
	var records []*psi.MatchRecord
	for i, h := range photos {
		id, err := psi.NewID(rnd)
		if err != nil {
			log.Fatal(err)
		}
		v, err := client.Voucher(rnd, &psi.Triple{Hash: h, ID: id, Derivative: []byte(fmt.Sprint("photo ", i))})
		if err != nil {
			log.Fatal(err)
		}
		rec, err := server.Match(v)
		if err != nil {
			log.Fatal(err)
		}
		if rec != nil {
			records = append(records, rec)
		}
		// Below the threshold Reveal gives only the candidate count.
		res, err := psi.Reveal(params, records)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("after photo %d: %d candidates, above threshold: %v\n", i, res.Candidates, res.AboveThreshold)
		if !res.AboveThreshold {
			continue
		}
		// Revealed is sorted by voucher id; sort by derivative to print.
		var got []string
		for _, m := range res.Revealed {
			d, err := m.Derivative()
			if err != nil {
				log.Fatal(err)
			}
			got = append(got, string(d))
		}
		slices.Sort(got)
		fmt.Printf("revealed %q\n", got)
	}
	// Output:
	// after photo 0: 1 candidates, above threshold: false
	// after photo 1: 2 candidates, above threshold: false
	// after photo 2: 2 candidates, above threshold: false
	// after photo 3: 3 candidates, above threshold: false
	// after photo 4: 4 candidates, above threshold: true
	// revealed ["photo 0" "photo 1" "photo 3" "photo 4"]
}
