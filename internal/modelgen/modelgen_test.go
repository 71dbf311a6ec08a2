package modelgen

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/onnxgen"
)

func TestRNGKnownAnswer(t *testing.T) {
	// SplitMix64's published first outputs for seed 0.
	r := newRNG(0)
	for i, want := range []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f} {
		if got := r.next(); got != want {
			t.Errorf("output %d = %#x, want %#x", i, got, want)
		}
	}
}

func TestDCTOrthonormal(t *testing.T) {
	c := dctMatrix()
	for i := range grid {
		for j := range grid {
			s := 0.0
			for k := range grid {
				s += float64(c[i*grid+k]) * float64(c[j*grid+k])
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(s-want) > 1e-6 {
				t.Fatalf("(C·Cᵀ)[%d][%d] = %g, want %g", i, j, s, want)
			}
		}
	}
}

func TestZigzag(t *testing.T) {
	z := zigzag()
	if len(z) != Dim {
		t.Fatalf("%d indices, want %d", len(z), Dim)
	}
	// JPEG's order: (0,1) (1,0) (2,0) (1,1) (0,2) (0,3) (1,2) (2,1) (3,0) (4,0).
	want := []int64{1, grid, 2 * grid, grid + 1, 2, 3, grid + 2, 2*grid + 1, 3 * grid, 4 * grid}
	if !slices.Equal(z[:len(want)], want) {
		t.Errorf("zigzag starts %v, want %v", z[:len(want)], want)
	}
	seen := map[int64]bool{}
	for _, k := range z {
		if k == 0 || seen[k] || k/grid+k%grid > 15 {
			t.Errorf("bad or repeated index %d", k)
		}
		seen[k] = true
	}
}

// TestDefaultEmbeddingDirect checks the reference's separable DCT and zigzag
// selection against the 2-D DCT-II formula evaluated directly.
func TestDefaultEmbeddingDirect(t *testing.T) {
	r := newRNG(7)
	img := make([]float32, 3*Size*Size)
	for i := range img {
		img[i] = float32(r.symmetric())
	}
	// Add a smooth pattern so low frequencies carry signal.
	for c := range 3 {
		for y := range Size {
			for x := range Size {
				img[c*Size*Size+y*Size+x] += float32(0.5 * math.Sin(float64(x+2*y+c)/40))
			}
		}
	}
	got := DefaultEmbedding(img)
	var small [grid][grid]float64
	for y := range Size {
		for x := range Size {
			i := y*Size + x
			l := 0.0
			for c := range 3 {
				l += float64(lumaWeights[c]) * float64(img[c*Size*Size+i])
			}
			small[y/pool][x/pool] += l / (pool * pool)
		}
	}
	for n, k := range zigzag() {
		u, v := int(k)/grid, int(k)%grid
		s := 0.0
		for y := range grid {
			for x := range grid {
				s += small[y][x] * math.Cos(math.Pi*float64(2*y+1)*float64(u)/(2*grid)) *
					math.Cos(math.Pi*float64(2*x+1)*float64(v)/(2*grid))
			}
		}
		a := func(f int) float64 {
			if f == 0 {
				return math.Sqrt(1.0 / grid)
			}
			return math.Sqrt(2.0 / grid)
		}
		s *= a(u) * a(v)
		if math.Abs(s-float64(got[n])) > 1e-5 {
			t.Errorf("coefficient %d (u=%d v=%d) = %g, direct formula %g", n, u, v, got[n], s)
		}
	}
	if DefaultEmbedding(img[:10]) != nil {
		t.Error("DefaultEmbedding accepted a short image")
	}
}

func TestSeedFileAndHash(t *testing.T) {
	m := make([]float32, Bits*Dim)
	m[0*Dim+0] = 1  // bit 0: e[0] ≥ 0
	m[1*Dim+0] = -1 // bit 1: -e[0] ≥ 0
	for i := 2; i < Bits; i++ {
		m[i*Dim+1] = float32(i%2*2 - 1) // alternate ±e[1]
	}
	f := SeedFile("test", m)
	if len(f) != SeedHeaderSize+4*Bits*Dim || !bytes.HasPrefix(f, []byte(seedMagic)) {
		t.Fatalf("seed file: %d bytes, header %q", len(f), f[:16])
	}
	if binary.LittleEndian.Uint32(f[48:]) != Bits || binary.LittleEndian.Uint32(f[52:]) != Dim {
		t.Error("header row/column counts wrong")
	}
	if got := math.Float32frombits(binary.LittleEndian.Uint32(f[SeedHeaderSize+4*Dim:])); got != -1 {
		t.Errorf("row 1 column 0 = %g, want -1", got)
	}
	emb := make([]float32, Dim)
	emb[0], emb[1] = 2, 3
	// bit0 1, bit1 0, then bits 2.. alternate: even i → -e1 < 0 → 0; odd → 1.
	want := []byte{0x95, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55}
	if got := Hash(m, emb); !bytes.Equal(got, want) {
		t.Errorf("Hash = %x, want %x", got, want)
	}
}

// TestBenchGeometry pins the bench model's size: about 1.8 M parameters and
// about 0.2 G multiply-accumulates per image, and checks the parameter count
// against the initializers actually written.
func TestBenchGeometry(t *testing.T) {
	b, _, layers, err := Bench()
	if err != nil {
		t.Fatal(err)
	}
	params, macs := Totals(layers)
	if params < 1.7e6 || params > 1.9e6 || macs < 0.18e9 || macs > 0.25e9 {
		t.Errorf("bench model: %d parameters, %d MACs", params, macs)
	}
	m, err := onnxgen.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	ops := map[string]int{}
	for _, init := range m.Graph.Initializers {
		stored += init.Elements()
	}
	for _, n := range m.Graph.Nodes {
		ops[n.OpType]++
	}
	if stored != params {
		t.Errorf("initializers hold %d values; the layer table counts %d parameters", stored, params)
	}
	for _, op := range []string{"Conv", "InstanceNormalization", "HardSwish", "HardSigmoid", "GlobalAveragePool", "Add", "Mul"} {
		if ops[op] == 0 {
			t.Errorf("no %s node", op)
		}
	}
	if ops["BatchNormalization"] != 0 {
		t.Error("BatchNormalization present")
	}
}

func TestDeterministic(t *testing.T) {
	a, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Files()
	for i := range a {
		if !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("%s differs between two runs", a[i].Name)
		}
	}
}

func BenchmarkDefaultEmbedding(b *testing.B) {
	r := newRNG(1)
	img := make([]float32, 3*Size*Size)
	for i := range img {
		img[i] = float32(r.symmetric())
	}
	for b.Loop() {
		DefaultEmbedding(img)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
