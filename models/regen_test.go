package models

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/vouchsafe/vouchsafe/internal/modelgen"
)

func seedMatrix(tb testing.TB, seed []byte) []float32 {
	tb.Helper()
	if len(seed) != 128+4*96*128 {
		tb.Fatalf("seed file is %d bytes; want %d", len(seed), 128+4*96*128)
	}
	m := make([]float32, 96*128)
	for i := range m {
		m[i] = math.Float32frombits(binary.LittleEndian.Uint32(seed[128+4*i:]))
	}
	return m
}

func TestRegenerate(t *testing.T) {
	files, err := modelgen.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := os.ReadFile(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s differs from the generator's output (%d vs %d bytes): run `go generate ./models`", f.Name, len(got), len(f.Data))
		}
	}
	if !bytes.Equal(Default().ONNX, files[0].Data) || !bytes.Equal(Bench().ONNX, files[2].Data) {
		t.Error("embedded models differ from the generated files")
	}
}

func TestLookup(t *testing.T) {
	for _, name := range Names() {
		m, ok := Lookup(name)
		if !ok || m.Name != name || len(m.ONNX) == 0 {
			t.Errorf("Lookup(%q) = %q, %v", name, m.Name, ok)
		}
		seedMatrix(t, m.Seed)
	}
	if _, ok := Lookup("neuralhash"); ok {
		t.Error(`Lookup("neuralhash") found a model`)
	}
	d := Default()
	d.ONNX[0] ^= 0xff
	if Default().ONNX[0] == d.ONNX[0] {
		t.Error("Default returned the embedded bytes, not a copy")
	}
}
