package psi

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"
)

// drbg is a deterministic random stream (ChaCha8 keyed by SHA-256(label)).
func drbg(label string) io.Reader {
	return rand.NewChaCha8(sha256.Sum256([]byte(label)))
}

func hashN(label string, i int) Hash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	s := sha256.Sum256(append([]byte(label), b[:]...))
	var h Hash
	copy(h[:], s[:])
	return h
}

func idN(label string, i int) ID {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	s := sha256.Sum256(append([]byte("id:"+label), b[:]...))
	var id ID
	copy(id[:], s[:])
	return id
}

// fixture is a table, its key and an account for small parameters.
type fixture struct {
	params  Params
	members []Hash
	table   *Table
	key     *ServerKey
	server  *Server
	account *Account
}

func newFixture(t testing.TB, label string, params Params, n int) *fixture {
	t.Helper()
	f := &fixture{params: params}
	for i := 0; i < n; i++ {
		f.members = append(f.members, hashN(label+"/member", i))
	}
	res, err := BuildTable(drbg(label+"/table"), f.members, TableOptions{Params: params, Epoch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Dropped) != 0 {
		t.Fatalf("%d dropped", len(res.Dropped))
	}
	f.table, f.key = res.Table, res.Key
	if f.server, err = NewServer(f.key); err != nil {
		t.Fatal(err)
	}
	if f.account, err = NewAccount(drbg(label+"/account"), "acct-"+label); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) client(t testing.TB, rate float64) *Client {
	t.Helper()
	c, err := NewClient(f.table, f.account, &ClientOptions{SyntheticRate: rate})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
