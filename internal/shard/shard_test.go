package shard

import (
	"flag"
	"fmt"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Spec
		ok   bool
	}{
		{"0/1", Spec{0, 1}, true},
		{"3/4", Spec{3, 4}, true},
		{"4/4", Spec{}, false},
		{"-1/4", Spec{}, false},
		{"0/0", Spec{}, false},
		{"1", Spec{}, false},
		{"a/b", Spec{}, false},
		{"0/2000000", Spec{}, false},
		{"", Spec{}, false},
	} {
		got, err := Parse(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("Parse(%q) = %v, %v", c.in, got, err)
		}
	}
}

// TestGolden pins the assignment: a change here reshuffles every sharded
// library, so it must be deliberate.
func TestGolden(t *testing.T) {
	for _, c := range []struct {
		path string
		n    int
		want int
	}{
		{"photos/a.jpg", 4, Of("./photos//a.jpg", 4)},
		{"photos/a.jpg", 1, 0},
	} {
		if got := Of(c.path, c.n); got != c.want {
			t.Errorf("Of(%q, %d) = %d, want %d", c.path, c.n, got, c.want)
		}
	}
	var got []int
	for i := range 8 {
		got = append(got, Of(fmt.Sprintf("lib/%d.jpg", i), 5))
	}
	if want := "[4 0 3 4 0 2 1 0]"; fmt.Sprint(got) != want {
		t.Errorf("assignment of lib/0..7.jpg to 5 shards is %v, want %s", got, want)
	}
}

// TestJump checks the jump hash against published values of the paper's
// reference code.
func TestJump(t *testing.T) {
	for _, c := range []struct {
		key  uint64
		n    int
		want int
	}{{256, 1024, 520}, {0, 60, 0}, {1, 60, 55}, {2, 60, 46}, {1, 1, 0}} {
		if got := jump(c.key, c.n); got != c.want {
			t.Errorf("jump(%d, %d) = %d, want %d", c.key, c.n, got, c.want)
		}
	}
}

// TestBalanceAndGrowth checks that shards get about equal shares, that every
// path is in exactly one shard, and that going from n to n+1 shards moves
// paths only to the new shard.
func TestBalanceAndGrowth(t *testing.T) {
	const paths = 20000
	for n := 1; n <= 9; n++ {
		count := make([]int, n)
		for i := range paths {
			p := fmt.Sprintf("library/%03d/IMG_%05d.JPG", i%977, i)
			k := Of(p, n)
			in := 0
			for j := range n {
				if (Spec{j, n}).Has(p) {
					in++
				}
			}
			if in != 1 {
				t.Fatalf("%s is in %d of %d shards", p, in, n)
			}
			count[k]++
			if k2 := Of(p, n+1); k2 != k && k2 != n {
				t.Fatalf("%s moved from shard %d of %d to %d of %d", p, k, n, k2, n+1)
			}
		}
		for k, c := range count {
			if exp := paths / n; c < exp*9/10 || c > exp*11/10 {
				t.Errorf("%d shards: shard %d has %d paths, expected about %d", n, k, c, exp)
			}
		}
	}
}

func TestFlags(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvIndex {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		args []string
		env  string
		want Spec
		ok   bool
	}{
		{nil, "3", Spec{}, true},
		{[]string{"--shard", "1/3"}, "", Spec{1, 3}, true},
		{[]string{"--shards", "3"}, "2", Spec{2, 3}, true},
		{[]string{"--shards", "3"}, "3", Spec{}, false},
		{[]string{"--shards", "3"}, "", Spec{}, false},
		{[]string{"--shards", "3"}, "x", Spec{}, false},
		{[]string{"--shards", "3", "--shard", "0/3"}, "0", Spec{}, false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		f := Register(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		got, err := f.Spec(env(c.env))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("%v with %s=%q: %v, %v", c.args, EnvIndex, c.env, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0/1", "3/4", "x/y", "1/0", "/", "99999999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := Parse(s)
		if err != nil {
			return
		}
		if sp.K < 0 || sp.K >= sp.N || sp.N > MaxShards {
			t.Fatalf("Parse(%q) = %v", s, sp)
		}
		if back, err := Parse(sp.String()); err != nil || back != sp {
			t.Fatalf("%v does not round-trip: %v %v", sp, back, err)
		}
	})
}
