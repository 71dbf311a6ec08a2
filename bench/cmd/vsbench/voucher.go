package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"image"
	_ "image/gif"  // the two-step path decodes with the standard decoders
	_ "image/jpeg" //
	_ "image/png"  //
	"io"
	"os"
	"runtime/pprof"
	"time"

	_ "golang.org/x/image/bmp"  //
	_ "golang.org/x/image/tiff" //
	_ "golang.org/x/image/webp" //
	"golang.org/x/sync/errgroup"

	"github.com/vouchsafe/vouchsafe/derivative"
	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/internal/cputime"
	"github.com/vouchsafe/vouchsafe/internal/hashlist"
	"github.com/vouchsafe/vouchsafe/psi"
)

// The voucher stages compare, side by side in one run, three ways through
// the same photos: the hash alone (what `vouchsafe hash` does), the
// one-pass voucher command (decode once → hash + derivative → vouchers),
// and the two-step path it replaces (hash to JSON Lines, then `voucher
// --images`, which decodes every photo again for its derivative). The three
// are interleaved, round after round, so that a change in the machine's load
// falls on all of them.

// voucherTableSize is the number of hashes in the benchmark's table: the
// voucher's cost does not depend on it.
const voucherTableSize = 1000

// voucherChunk is the one-pass command's default --chunk.
const voucherChunk = 128

type voucherBench struct {
	h      *engine.Hasher
	acct   *psi.Account
	client *psi.Client
	enc    *derivative.Encoder
	max    int
}

func newVoucherBench(h *engine.Hasher) (*voucherBench, error) {
	xs := make([]psi.Hash, voucherTableSize)
	for i := range xs {
		rand.Read(xs[i][:])
	}
	res, err := psi.BuildTable(rand.Reader, xs, psi.TableOptions{})
	if err != nil {
		return nil, err
	}
	acct, err := psi.NewAccount(rand.Reader, "vsbench")
	if err != nil {
		return nil, err
	}
	client, err := psi.NewClient(res.Table, acct, nil)
	if err != nil {
		return nil, err
	}
	enc, err := derivative.NewEncoder()
	if err != nil {
		return nil, err
	}
	return &voucherBench{h: h, acct: acct, client: client, enc: enc, max: res.Table.Params().MaxDerivative()}, nil
}

func passes(files []string, n int) func(yield func(engine.Input) bool) {
	return func(yield func(engine.Input) bool) {
		for range n {
			for _, f := range files {
				if !yield(engine.Input{Path: f}) {
					return
				}
			}
		}
	}
}

// hashOnly is `vouchsafe hash -o FILE`: records out as JSON Lines.
func (vb *voucherBench) hashOnly(ctx context.Context, files []string, n int) (int, error) {
	enc := json.NewEncoder(io.Discard)
	images := 0
	_, err := vb.h.Run(ctx, passes(files, n), func(r engine.Record) error {
		images++
		if r.Err != nil {
			return r.Err
		}
		return enc.Encode(map[string]any{"path": r.Path, "hash": r.Hash, "width": r.Width, "height": r.Height})
	})
	return images, err
}

// onePass is `vouchsafe voucher --table T --account A PHOTOS -o FILE`.
func (vb *voucherBench) onePass(ctx context.Context, files []string, n int) (int, error) {
	w, err := psi.NewVoucherWriter(io.Discard, vb.acct.Label)
	if err != nil {
		return 0, err
	}
	g, ctx := errgroup.WithContext(ctx)
	chunks := make(chan []psi.Triple, 1)
	g.Go(func() error {
		for trs := range chunks {
			vs, err := vb.client.Vouchers(rand.Reader, trs)
			if err != nil {
				return err
			}
			for _, v := range vs {
				w.Write(v)
			}
		}
		return w.Flush()
	})
	images := 0
	g.Go(func() error {
		defer close(chunks)
		cfg := engine.Config{Outputs: engine.OutHash | engine.OutDerivative, Hasher: vb.h,
			Derive: func(img image.Image) ([]byte, error) { return vb.enc.Encode(img, vb.max) }}
		var cur []psi.Triple
		_, err := engine.Run(ctx, cfg, passes(files, n), func(r engine.Record) error {
			images++
			if r.Err != nil {
				return r.Err
			}
			id := vb.acct.DeriveID([]byte(r.Path + "\x00" + r.Hash.String()))
			cur = append(cur, psi.Triple{Hash: psi.Hash(r.Hash), ID: id, Derivative: r.Derivative})
			if len(cur) == voucherChunk {
				select {
				case chunks <- cur:
				case <-ctx.Done():
					return ctx.Err()
				}
				cur = nil
			}
			return nil
		})
		if err == nil && len(cur) > 0 {
			// As above: a failed writer no longer receives.
			select {
			case chunks <- cur:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return err
	})
	return images, g.Wait()
}

// twoStep is `vouchsafe hash -o h.jsonl PHOTOS` then `vouchsafe voucher
// --images h.jsonl`: the second step decodes every photo again with the
// standard decoders, as voucher --images does, then makes every voucher.
func (vb *voucherBench) twoStep(ctx context.Context, files []string, n int, workers int) (int, error) {
	var list bytes.Buffer
	if _, err := vb.hashOnlyTo(ctx, files, n, &list); err != nil {
		return 0, err
	}
	recs, _, err := hashlist.ReadHashRecords(&list)
	if err != nil {
		return 0, err
	}
	trs := make([]psi.Triple, len(recs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := 0; i < len(recs) && gctx.Err() == nil; i++ {
		g.Go(func() error {
			h, _ := psi.ParseHash(recs[i].Hash)
			trs[i] = psi.Triple{Hash: h, ID: vb.acct.DeriveID([]byte(recs[i].Path + "\x00" + recs[i].Hash))}
			var err error
			trs[i].Derivative, err = vb.derivativeOf(recs[i].Path)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	vs, err := vb.client.Vouchers(rand.Reader, trs)
	if err != nil {
		return 0, err
	}
	w, err := psi.NewVoucherWriter(io.Discard, vb.acct.Label)
	if err != nil {
		return 0, err
	}
	for _, v := range vs {
		w.Write(v)
	}
	return len(vs), w.Flush()
}

func (vb *voucherBench) hashOnlyTo(ctx context.Context, files []string, n int, out io.Writer) (int, error) {
	enc := json.NewEncoder(out)
	images := 0
	_, err := vb.h.Run(ctx, passes(files, n), func(r engine.Record) error {
		images++
		if r.Err != nil {
			return r.Err
		}
		return enc.Encode(map[string]any{"path": r.Path, "hash": r.Hash.String(), "width": r.Width, "height": r.Height})
	})
	return images, err
}

// derivativeOf is voucher --images for one record.
func (vb *voucherBench) derivativeOf(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return vb.enc.Encode(img, vb.max)
}

// voucherStages measures the three paths, interleaved for rounds rounds of
// n passes over the files each, and returns their stages: "hashonly",
// "voucher" (one pass) and "twostep".
func voucherStages(ctx context.Context, h *engine.Hasher, files []string, workers int, minTime time.Duration) []Stage {
	vb, err := newVoucherBench(h)
	if err != nil {
		return []Stage{{Stage: "voucher", Err: err.Error()}}
	}
	defer vb.enc.Close()
	// A warm-up pass, then one timed pass of the hash sizes the rounds:
	// about minTime in all.
	var per time.Duration
	for range 2 {
		t0 := time.Now()
		if _, err := vb.hashOnly(ctx, files, 1); err != nil {
			return []Stage{{Stage: "voucher", Err: err.Error()}}
		}
		per = time.Since(t0)
	}
	const rounds = 3
	n := max(1, int(minTime/(per*3*rounds)))
	names := []string{"hashonly", "voucher", "twostep"}
	runs := []func() (int, error){
		func() (int, error) { return vb.hashOnly(ctx, files, n) },
		func() (int, error) { return vb.onePass(ctx, files, n) },
		func() (int, error) { return vb.twoStep(ctx, files, n, workers) },
	}
	images := make([]int, 3)
	walls := make([]time.Duration, 3)
	cpus := make([]time.Duration, 3)
	lat := make([][]time.Duration, 3)
	for range rounds {
		for i, run := range runs {
			c0, t0 := cputime.Process(), time.Now()
			var k int
			var err error
			// Labelled for --cpuprofile: -tagfocus path=voucher.
			pprof.Do(ctx, pprof.Labels("path", names[i]), func(context.Context) { k, err = run() })
			if err != nil {
				return []Stage{{Stage: names[i], Err: err.Error()}}
			}
			walls[i] += time.Since(t0)
			lat[i] = append(lat[i], time.Since(t0))
			cpus[i] += cputime.Process() - c0
			images[i] += k
		}
	}
	var out []Stage
	for i, name := range names {
		s := newStage(name, images[i], walls[i], lat[i], "run")
		if images[i] > 0 && cpus[i] > 0 {
			s.CPUPerImage = float64(cpus[i]) / 1e6 / float64(images[i])
		}
		s.Batch, s.Workers = h.DefaultBatch(), workers
		s.Note = fmt.Sprintf("%d rounds of %d passes, interleaved with the other two", rounds, n)
		out = append(out, s)
	}
	return out
}
