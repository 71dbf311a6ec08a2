// Package shard splits a stream of input paths among N workers without
// coordination: each path goes to the shard a hash of its canonical form
// picks, so N processes given the same inputs (a Kubernetes Indexed Job's
// pods, say) hash disjoint parts whose union is the whole, and adding inputs
// later does not move the old ones.
//
// The hash is SHA-256 of the cleaned, slash-separated path, fed to Lamping
// and Veach's jump consistent hash: changing N from n to n+1 moves only about
// 1/(n+1) of the inputs, all to the new shard, so a resharded run can keep
// most of its earlier outputs (with --resume).
package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// MaxShards bounds N.
const MaxShards = 1 << 20

// EnvIndex is the variable Kubernetes sets to a pod's index in an Indexed Job.
const EnvIndex = "JOB_COMPLETION_INDEX"

// Spec is shard K of N (0 ≤ K < N). The zero Spec (N = 0) selects everything.
type Spec struct {
	K, N int
}

// All reports whether s selects every input.
func (s Spec) All() bool { return s.N <= 1 }

// String formats s as K/N.
func (s Spec) String() string {
	if s.All() {
		return "0/1"
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// Parse reads "K/N".
func Parse(v string) (Spec, error) {
	ks, ns, ok := strings.Cut(v, "/")
	if !ok {
		return Spec{}, fmt.Errorf("shard %q: want K/N, e.g. 0/4", v)
	}
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if err1 != nil || err2 != nil {
		return Spec{}, fmt.Errorf("shard %q: K and N must be integers", v)
	}
	return check(k, n)
}

func check(k, n int) (Spec, error) {
	if n < 1 || n > MaxShards {
		return Spec{}, fmt.Errorf("shard count %d: want 1 to %d", n, MaxShards)
	}
	if k < 0 || k >= n {
		return Spec{}, fmt.Errorf("shard index %d: want 0 to %d for %d shards", k, n-1, n)
	}
	return Spec{K: k, N: n}, nil
}

// Canonical is the form of a path that is hashed: cleaned, with forward
// slashes, so "./a//b" and "a/b" land in the same shard on every system.
func Canonical(path string) string {
	return filepath.ToSlash(filepath.Clean(path))
}

// Of returns the shard, in [0, n), of path. n must be at least 1.
func Of(path string, n int) int {
	h := sha256.Sum256([]byte(Canonical(path)))
	return jump(binary.BigEndian.Uint64(h[:8]), n)
}

// jump is the jump consistent hash (Lamping and Veach, 2014,
// arXiv:1406.2294): a key's bucket for n+1 buckets is its bucket for n, or n.
func jump(key uint64, n int) int {
	b, j := int64(-1), int64(0)
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}

// Has reports whether path belongs to shard s.
func (s Spec) Has(path string) bool {
	return s.All() || Of(path, s.N) == s.K
}

// Flags are the command-line flags that choose a shard: --shard K/N, or
// --shards N with K from $JOB_COMPLETION_INDEX.
type Flags struct {
	spec   string
	shards int
}

// Register adds --shard and --shards to fs.
func Register(fs *flag.FlagSet) *Flags {
	f := new(Flags)
	fs.StringVar(&f.spec, "shard", "", "process only shard `K/N` of the inputs (by a hash of each path; the same inputs on every shard)")
	fs.IntVar(&f.shards, "shards", 0, "process only shard $"+EnvIndex+" of `N` (a Kubernetes Indexed Job)")
	return f
}

// ErrNoIndex means --shards was given without $JOB_COMPLETION_INDEX.
var ErrNoIndex = errors.New("shard: --shards needs $" + EnvIndex + " (or use --shard K/N)")

// Spec resolves the flags; getenv looks up environment variables
// (os.Getenv). No flag means every input.
func (f *Flags) Spec(getenv func(string) string) (Spec, error) {
	switch {
	case f.spec != "" && f.shards != 0:
		return Spec{}, errors.New("shard: --shard and --shards are alternatives")
	case f.spec != "":
		return Parse(f.spec)
	case f.shards != 0:
		v := getenv(EnvIndex)
		if v == "" {
			return Spec{}, ErrNoIndex
		}
		k, err := strconv.Atoi(v)
		if err != nil {
			return Spec{}, fmt.Errorf("shard: $%s is %q, not an integer", EnvIndex, v)
		}
		return check(k, f.shards)
	}
	return Spec{}, nil
}
