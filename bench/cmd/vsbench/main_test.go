package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/internal/ort"
	"github.com/vouchsafe/vouchsafe/internal/ort/orttest"
)

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- { // 1..100 ms, unsorted
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	l := summarize(d)
	if l.P50 != 50 || l.P90 != 90 || l.P99 != 99 || l.Max != 100 || l.Mean != 50.5 {
		t.Errorf("summarize(1..100 ms) = %+v", l)
	}
	if l := summarize([]time.Duration{7 * time.Millisecond}); l.P50 != 7 || l.P99 != 7 {
		t.Errorf("summarize(7 ms) = %+v", l)
	}
	if l := summarize(nil); l != (Latency{}) {
		t.Errorf("summarize(nil) = %+v", l)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	stages := []Stage{
		newStage("decode", 40, 2*time.Second, []time.Duration{time.Millisecond, 3 * time.Millisecond}, "image"),
		{Stage: "open", Device: "cuda", Model: "bench", Err: "cuda: libcudnn.so.9 not found\non the loader path"},
	}
	stages[0].Workers = 2
	if err := writeTable(&b, stages); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"img/s", "decode", "20.00", "open", "cuda bench: cuda: libcudnn.so.9 not found on the loader path"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestRatios(t *testing.T) {
	stages := []Stage{
		{Stage: "decode", Rate: 100, CPUPerImage: 10},
		{Stage: "infer", Device: "cpu", Model: "bench", Batch: 16, Streams: 1, Rate: 50, CPUPerImage: 4},
		{Stage: "infer", Device: "cpu", Model: "bench", Batch: 4, Streams: 1, Rate: 40, CPUPerImage: 9},
		{Stage: "hash", Model: "bench", CPUPerImage: 1},
		{Stage: "e2e", Device: "cpu", Model: "bench", Batch: 16, Rate: 45, CPUPerImage: 18},
	}
	r := ratios(stages, config{}, nil)
	if len(r) != 1 || r[0].E2EOverDecode != 0.45 || r[0].E2EOverSlower != 0.9 || r[0].InferAtBatch != 50 || r[0].CPUOverStages != 1.2 {
		t.Errorf("ratios = %+v", r)
	}
}

func TestCompare(t *testing.T) {
	a, _ := engine.ParseHash("000000000000000000000000")
	b, _ := engine.ParseHash("ffffffffffffffffffffffff")
	ref := &refOutput{Rate: 10, Images: 3, Results: []refResult{
		{Path: "x.jpg", Hash: "000000000000000000000003"},
		{Path: "y.jpg", Hash: "ffffffffffffffffffffffff"},
		{Path: "z.jpg", Error: "broken"},
	}}
	c := compare("bench", "cpu", 250, ref, map[string]engine.Hash{"x.jpg": a, "y.jpg": b, "z.jpg": a})
	if c.Ratio != 25 || c.Hamming.Images != 2 || c.Hamming.Max != 2 || c.Hamming.Mean != 1 || c.Hamming.Histogram[0] != 1 || c.Hamming.Histogram[2] != 1 {
		t.Errorf("compare = %+v", c)
	}
	if c.PerImage[0].Path != "x.jpg" || c.PerImage[0].Distance != 2 || c.PerImage[0].Ref != "000000000000000000000003" {
		t.Errorf("per image = %+v", c.PerImage)
	}
	bad := compare("bench", "cpu", 1, &refOutput{Results: []refResult{{Path: "x.jpg", Hash: "zz"}}}, map[string]engine.Hash{"x.jpg": a})
	if bad.Err == "" || bad.Hamming.Images != 0 {
		t.Errorf("a malformed reference hash was accepted: %+v", bad)
	}
}

// FuzzReferenceOutput feeds arbitrary reference output through the parser
// and the comparison: nothing may panic.
func FuzzReferenceOutput(f *testing.F) {
	f.Add([]byte(`{"images":1,"images_per_s":3,"results":[{"path":"a","hash":"0123456789abcdef01234567"}]}`))
	f.Add([]byte(`{"results":[{"path":"a","hash":"xyz"},{"path":"a","error":"e"}]}`))
	f.Add([]byte(`[]`))
	ours := map[string]engine.Hash{"a": {1, 2, 3}}
	f.Fuzz(func(t *testing.T, b []byte) {
		var out refOutput
		if json.Unmarshal(b, &out) != nil {
			return
		}
		c := compare("m", "cpu", 1, &out, ours)
		if c.Hamming.Max > engine.HashBits || c.Hamming.Images > len(out.Results) {
			t.Fatalf("impossible comparison %+v", c.Hamming)
		}
	})
}

func TestRunReferenceFakeScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.sh")
	os.WriteFile(ok, []byte(`echo '{"onnxruntime":"9.9","images":1,"images_per_s":2.5,"results":[{"path":"p.jpg","hash":"0123456789abcdef01234567"}]}'`), 0o644)
	out, err := runReference(context.Background(), sh, ok, "", "m.onnx", "s.dat", dir, []string{"p.jpg"})
	if err != nil || out.Rate != 2.5 || out.ORT != "9.9" || out.Results[0].Hash != "0123456789abcdef01234567" {
		t.Fatalf("runReference = %+v, %v", out, err)
	}
	if _, err := runReference(context.Background(), sh, ok, "", "m.onnx", "s.dat", dir, []string{"p.jpg", "q.jpg"}); err == nil {
		t.Error("a reference that skipped an image was accepted")
	}
	missing := filepath.Join(dir, "missing.sh")
	os.WriteFile(missing, []byte("echo 'missing Python modules: onnxruntime' >&2; exit 3\n"), 0o644)
	if _, err := runReference(context.Background(), sh, missing, "", "m.onnx", "s.dat", dir, []string{"p.jpg"}); err == nil || !strings.Contains(err.Error(), "unavailable: missing Python modules: onnxruntime") {
		t.Errorf("err = %v, want the script's message", err)
	}
	garbage := filepath.Join(dir, "garbage.sh")
	os.WriteFile(garbage, []byte("echo not json\n"), 0o644)
	if _, err := runReference(context.Background(), sh, garbage, "", "m.onnx", "s.dat", dir, []string{"p.jpg"}); err == nil || !strings.Contains(err.Error(), "not its JSON") {
		t.Errorf("err = %v, want a JSON error", err)
	}
}

const refScript = "../../reference.py"

// pythonWith returns an interpreter that can import the modules, or "".
func pythonWith(modules string) string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import "+modules).Run() == nil {
			return p
		}
	}
	return ""
}

// The real reference script, where onnxruntime is missing, says so and exits 3.
func TestReferenceScriptMissingModule(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	if exec.Command(py, "-c", "import onnxruntime").Run() == nil {
		t.Skip("this python3 has onnxruntime")
	}
	cmd := exec.Command(py, refScript, "--model", "m.onnx", "--seed", "s.dat", "x.jpg")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitMissingModules || !strings.Contains(stderr.String(), "onnxruntime") {
		t.Fatalf("reference.py without onnxruntime: %v, stderr %q", err, stderr.String())
	}
}

// fakeORT is an onnxruntime module whose model returns the first 128 input
// values of each image, so the script's preprocessing and projection can be
// checked against Go without ONNX Runtime in Python.
const fakeORT = `
__version__ = "fake"
class _Input:
    name = "image"
class InferenceSession:
    def __init__(self, path, providers=None):
        open(path, "rb").close()
        self._p = providers or ["CPUExecutionProvider"]
    def get_inputs(self):
        return [_Input()]
    def get_providers(self):
        return self._p
    def run(self, names, feeds):
        x = feeds["image"]
        assert x.shape[1:] == (3, 360, 360) and str(x.dtype) == "float32", (x.shape, x.dtype)
        return [x.reshape(x.shape[0], -1)[:, :128].reshape(x.shape[0], 128, 1, 1)]
`

// writeSeed writes a random seed file and returns its projection.
func writeSeed(t *testing.T, path string, rng *rand.Rand) *engine.Projection {
	b := make([]byte, engine.SeedFileSize)
	for i := 128; i < len(b); i += 4 {
		binary.LittleEndian.PutUint32(b[i:], math.Float32bits(float32(rng.NormFloat64())))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := engine.ParseSeed(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The real reference script with a fake onnxruntime: its tensor layout,
// normalisation, seed parsing and bit order match the engine's.
func TestReferenceScriptSteps(t *testing.T) {
	py := pythonWith("numpy, PIL")
	if py == "" {
		t.Skip("no python3 with NumPy and Pillow")
	}
	dir := t.TempDir()
	mod := filepath.Join(dir, "mod")
	os.Mkdir(mod, 0o755)
	os.WriteFile(filepath.Join(mod, "onnxruntime.py"), []byte(fakeORT), 0o644)
	t.Setenv("PYTHONPATH", mod)
	rng := rand.New(rand.NewPCG(7, 8))
	proj := writeSeed(t, filepath.Join(dir, "seed.dat"), rng)
	os.WriteFile(filepath.Join(dir, "m.onnx"), []byte("fake"), 0o644)
	want := map[string]engine.Hash{}
	var files []string
	for i := range 3 {
		// 360×360, so Pillow's resize leaves the pixels as they are.
		img := image.NewNRGBA(image.Rect(0, 0, 360, 360))
		for j := range img.Pix {
			img.Pix[j] = uint8(rng.UintN(256))
			if j%4 == 3 {
				img.Pix[j] = 255
			}
		}
		p := filepath.Join(dir, "img"+string(rune('a'+i))+".png")
		var b bytes.Buffer
		png.Encode(&b, img)
		os.WriteFile(p, b.Bytes(), 0o644)
		emb := make([]float32, engine.EmbeddingSize)
		for x := range emb { // the R channel of row 0
			emb[x] = float32(img.Pix[4*x])/255*2 - 1
		}
		want[p] = proj.Hash(emb)
		files = append(files, p)
	}
	files = append(files, filepath.Join(dir, "missing.png"))
	out, err := runReference(context.Background(), py, refScript, "", filepath.Join(dir, "m.onnx"), filepath.Join(dir, "seed.dat"), dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if out.Failed != 1 || out.Results[3].Error == "" || out.ORT != "fake" || out.Rate <= 0 {
		t.Errorf("reference output: %+v", out)
	}
	c := compare("m", "cpu", 1, out, want)
	if c.Hamming.Images != 3 || c.Hamming.Max != 0 {
		t.Errorf("reference hashes differ from the engine's projection: %+v", c.PerImage)
	}
}

// ortLibrary finds libonnxruntime for the end-to-end test, or skips (fails
// under CI=true).
func ortLibrary(t *testing.T) string {
	if p, err := ort.FindLibrary(""); err == nil {
		return p
	}
	for d, _ := filepath.Abs("."); d != filepath.Dir(d); d = filepath.Dir(d) {
		p := filepath.Join(d, ".cache", "ort", ort.LibraryName())
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return orttest.Library(t) // skips, or fails under CI=true, saying why
}

// photos writes n small JPEGs, one PNG and one file that is not an image.
func photos(t *testing.T, dir string, n int) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 200+40*i, 150+30*i))
		for y := range img.Rect.Dy() {
			for x := range img.Rect.Dx() {
				img.Set(x, y, color.RGBA{uint8(x + i*50), uint8(y * 2), uint8(rng.UintN(64)), 255})
			}
		}
		var b bytes.Buffer
		if i == 0 {
			png.Encode(&b, img)
			os.WriteFile(filepath.Join(dir, "p0.png"), b.Bytes(), 0o644)
			continue
		}
		jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
		os.WriteFile(filepath.Join(dir, "p"+string(rune('0'+i))+".jpg"), b.Bytes(), 0o644)
	}
}

func TestRunEndToEnd(t *testing.T) {
	if !ort.Available {
		t.Skip("built without cgo")
	}
	lib := ortLibrary(t)
	dir := t.TempDir()
	photos(t, dir, 4)
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	args := []string{"--ort-lib", lib, "--devices", "cpu,cuda", "--models", "bench", "--batches", "1,3",
		"--min-time", "1ms", "--workers", "2", "--batch", "2", "--json", jsonPath}
	py := pythonWith("numpy, PIL")
	if py != "" {
		mod := t.TempDir()
		os.WriteFile(filepath.Join(mod, "onnxruntime.py"), []byte(fakeORT), 0o644)
		t.Setenv("PYTHONPATH", mod)
		args = append(args, "--reference", py, "--reference-script", refScript)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append(args, dir), &stdout, &stderr)
	var rep Report
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatalf("no JSON written (exit %d): %v\n%s", code, err, stderr.String())
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	cudaOK := false
	seen := map[string]bool{}
	for _, s := range rep.Stages {
		if s.Err != "" {
			if s.Device == "cuda" && s.Stage == "open" && strings.Contains(s.Err, "cuda") {
				continue // no GPU here: the CUDA row says why
			}
			t.Errorf("stage %+v failed", s)
			continue
		}
		seen[s.Stage+"/"+s.Device] = true
		if s.Device == "cuda" {
			cudaOK = true
		}
		if s.Images <= 0 || s.Rate <= 0 {
			t.Errorf("stage %+v has no figures", s)
		}
		// The voucher stages time whole interleaved passes: a rate and the
		// CPU per image, no per-image latency.
		if s.LatencyOf == "" {
			if s.CPUPerImage <= 0 {
				t.Errorf("stage %+v has no CPU time", s)
			}
		} else if s.Latency.P50 <= 0 || s.Latency.P99 < s.Latency.P50 {
			t.Errorf("stage %+v has no latency", s)
		}
	}
	for _, st := range []string{"decode/", "infer/cpu", "hash/", "e2e/cpu", "hashonly/cpu", "voucher/cpu", "twostep/cpu"} {
		if !seen[st] {
			t.Errorf("no %s stage in %s", st, b)
		}
	}
	if want := 0; !cudaOK {
		want = 1
		if code != want {
			t.Errorf("exit %d without a GPU, want %d (a device asked for was not measured)", code, want)
		}
	} else if code != 0 {
		t.Errorf("exit %d", code)
	}
	if rep.Photos.Files != 4 || rep.Photos.Decoded != 4 || rep.Machine.ORT == "" || rep.Machine.NumCPU != runtime.NumCPU() {
		t.Errorf("report header: %+v %+v", rep.Photos, rep.Machine)
	}
	for _, s := range rep.Stages {
		if s.Stage == "e2e" && (s.Batch != 2 || s.Workers != 2) {
			t.Errorf("e2e reports batch %d and workers %d, want 2 and 2", s.Batch, s.Workers)
		}
	}
	if len(rep.Ratios) == 0 || rep.Ratios[0].E2EOverDecode <= 0 {
		t.Errorf("ratios: %+v", rep.Ratios)
	}
	if py != "" {
		if len(rep.Comparisons) == 0 || rep.Comparisons[0].Hamming.Images != 4 || rep.Comparisons[0].Ratio <= 0 {
			t.Errorf("comparisons: %+v", rep.Comparisons)
		}
	}
	if !strings.Contains(stdout.String(), "e2e") || !strings.Contains(stdout.String(), "machine:") {
		t.Errorf("table:\n%s", stdout.String())
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--stages", "decode,warp", "x"},
		{"--devices", "tpu", "x"},
		{"--batches", "0", "x"},
		{"--streams", "0", "x"},
		{}, // photos needed
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("run(%q) = %d, want 2; stderr %s", args, code, stderr.String())
		}
	}
}

func TestBestStages(t *testing.T) {
	a := []Stage{
		{Stage: "decode", Rate: 10},
		{Stage: "infer", Device: "cpu", Model: "m", Batch: 4, Rate: 5},
		{Stage: "open", Device: "cuda", Model: "m", Err: "no driver"},
	}
	b := []Stage{
		{Stage: "decode", Rate: 8},
		{Stage: "infer", Device: "cpu", Model: "m", Batch: 4, Rate: 6},
		{Stage: "infer", Device: "cpu", Model: "m", Batch: 16, Rate: 7},
		{Stage: "open", Device: "cuda", Model: "m", Err: "no driver"},
	}
	got := bestStages(a, b)
	if len(got) != 4 || got[0].Rate != 10 || got[1].Rate != 6 || got[3].Batch != 16 || got[2].Err == "" {
		t.Errorf("bestStages = %+v", got)
	}
}

// --combine gathers the steps and the reports into one JSON and one Markdown
// file; a report that cannot be read is listed, not fatal.
func TestCombine(t *testing.T) {
	dir := t.TempDir()
	rep := Report{
		Config: config{Paths: []string{"photos"}},
		Stages: []Stage{
			{Stage: "infer", Device: "cuda", Model: "bench", Precision: "fp16", Batch: 128, Streams: 2, Images: 256, Rate: 5000},
			{Stage: "open", Device: "cuda", Model: "default", Err: "no | driver"},
		},
		Precisions: []PrecisionDiff{{Device: "cuda", Model: "bench", Precision: "fp16", Against: "fp32", Hamming: Hamming{Images: 4, Max: 2, Mean: 0.5}, Identical: 0.75}},
	}
	b, _ := json.Marshal(rep)
	good := filepath.Join(dir, "small.json")
	os.WriteFile(good, b, 0o644)
	bad := filepath.Join(dir, "camera.json")
	os.WriteFile(bad, []byte("{"), 0o644)
	logf := filepath.Join(dir, "unpack.log")
	os.WriteFile(logf, []byte("xz: truncated input\n"), 0o644)
	steps := filepath.Join(dir, "steps.tsv")
	os.WriteFile(steps, []byte("parts\t0\t0.5\t\nunpack\t1\t2.0\t"+logf+"\ncamera\t125\t0\t\n"), 0o644)
	jsonOut, md := filepath.Join(dir, "all.json"), filepath.Join(dir, "all.md")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--combine", "--steps", steps, "--json", jsonOut, "--markdown", md, good, bad}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var ch Check
	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ch); err != nil {
		t.Fatal(err)
	}
	if len(ch.Steps) != 3 || ch.Steps[1].Status != 1 || !strings.Contains(ch.Steps[1].LogTail, "truncated") || ch.Steps[0].LogTail != "" {
		t.Errorf("steps: %+v", ch.Steps)
	}
	if r := ch.Runs["small"]; r == nil || len(r.Stages) != 2 || r.Stages[0].Precision != "fp16" || len(ch.Errors) != 1 || !strings.Contains(ch.Errors[0], "camera.json") {
		t.Errorf("runs %+v, errors %v", ch.Runs, ch.Errors)
	}
	m, _ := os.ReadFile(md)
	for _, want := range []string{"| unpack | **failed** (exit 1) |", "| camera | **skipped** (out of time) |", "| infer | cuda | bench@fp16 | 128 | 2 | 5000 |", `no \| driver`, "bits moved mean 0.50, max 2, identical 75%"} {
		if !strings.Contains(string(m), want) {
			t.Errorf("markdown lacks %q:\n%s", want, m)
		}
	}
	os.WriteFile(steps, []byte("parts\tx\t1\n"), 0o644)
	if code := run(context.Background(), []string{"--combine", "--steps", steps, "--json", jsonOut, good}, &stdout, &stderr); code != 1 {
		t.Errorf("bad steps file: exit %d, want 1", code)
	}
	if code := run(context.Background(), []string{"--combine", good}, &stdout, &stderr); code != 2 {
		t.Errorf("--combine without --json: exit %d, want 2", code)
	}
}

// readSteps returns steps or an error for any file, never panics.
func FuzzReadSteps(f *testing.F) {
	f.Add([]byte("parts\t0\t0.5\t\nunpack\t1\t2.0\t/nonexistent\n"))
	f.Add([]byte("a\tb"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "steps.tsv")
		os.WriteFile(p, b, 0o644)
		steps, err := readSteps(p)
		if err == nil && len(steps) > strings.Count(string(b), "\n")+1 {
			t.Fatalf("%d steps from %d lines", len(steps), strings.Count(string(b), "\n")+1)
		}
	})
}

func TestParseVariant(t *testing.T) {
	v, err := parseVariant("sessions=2+threads=2+spin=on+opt=basic+noarena+nomempattern+affinity+inter=1+batch=4")
	if err != nil {
		t.Fatal(err)
	}
	if v.Sessions != 2 || v.Threads != 2 || v.Batch != 4 || v.Tuning.Spin != "on" || v.Tuning.GraphOpt != "basic" ||
		!v.Tuning.NoArena || !v.Tuning.NoMemPattern || !v.Tuning.Affinity || v.Tuning.InterOpThreads != 1 {
		t.Errorf("parsed %+v", v)
	}
	if v, err := parseVariant("ort-defaults"); err != nil || !v.Tuning.ORTDefaults {
		t.Errorf("ort-defaults: %+v %v", v, err)
	}
	for _, bad := range []string{"spin=sometimes", "threads=0", "threads=x", "turbo", "default=1", "opt=max", "noarena=1"} {
		if _, err := parseVariant(bad); err == nil {
			t.Errorf("variant %q parsed", bad)
		}
	}
	if vs := variantsFor("cuda", []variant{v}); len(vs) != 1 || vs[0].Name != "" {
		t.Errorf("variants apply to the CPU only: %+v", vs)
	}
}
