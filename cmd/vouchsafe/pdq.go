package main

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/internal/imgproc"
	"github.com/vouchsafe/vouchsafe/internal/results"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
	"github.com/vouchsafe/vouchsafe/pdq"
)

// pdqHasher runs Meta's PDQ over the inputs on a worker pool, emitting in input order.
type pdqHasher struct {
	workers int
	budget  *imgproc.Budget
}

func newPDQHasher(o engine.Options) (imageHasher, error) {
	if o.Model != "default" || o.Seed != "" || o.Exact || o.AutoOrient {
		return nil, fmt.Errorf("--algo pdq takes none of --model, --seed, --exact, --auto-orient")
	}
	w := o.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	b := o.Budget
	if b == nil {
		b = imgproc.NewBudget(0)
	}
	return pdqHasher{workers: w, budget: b}, nil
}

func (p pdqHasher) Run(ctx context.Context, inputs <-chan engine.Input, emit func(results.Record) error) (engine.RunStats, error) {
	var st engine.RunStats
	type job struct {
		seq int64
		in  engine.Input
	}
	type done struct {
		seq int64
		rec results.Record
	}
	jobs := make(chan job, p.workers)
	outs := make(chan done, p.workers)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(jobs)
		var seq int64
		for {
			// The input stream may stall (stdin): a signal must still stop
			// the run.
			var in engine.Input
			var ok bool
			select {
			case in, ok = <-inputs:
			case <-ctx.Done():
				return ctx.Err()
			}
			if !ok {
				return nil
			}
			select {
			case jobs <- job{seq, in}:
			case <-ctx.Done():
				return ctx.Err()
			}
			seq++
		}
	})
	var decode atomic.Int64
	var running atomic.Int32
	running.Store(int32(p.workers))
	for range p.workers {
		g.Go(func() error {
			defer func() {
				if running.Add(-1) == 0 {
					close(outs)
				}
			}()
			var h pdq.Hasher
			for j := range jobs {
				t0 := time.Now()
				rec := results.Record{Path: j.in.Path}
				err := j.in.Err
				var data []byte
				if err == nil {
					data, err = safeio.ReadFile(j.in.Path, safeio.MaxImageFile)
				}
				if err == nil {
					err = p.hashOne(ctx, &h, j.in.Path, data, &rec)
				}
				if err != nil {
					rec.Error = err.Error()
				}
				decode.Add(int64(time.Since(t0)))
				select {
				case outs <- done{j.seq, rec}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	// In input order; at most workers+channel capacity records wait here.
	g.Go(func() error {
		pending := map[int64]results.Record{}
		var next int64
		for d := range outs {
			pending[d.seq] = d.rec
			for {
				r, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				st.Images++
				if r.Error != "" {
					st.Failed++
				}
				if err := emit(r); err != nil {
					return err
				}
			}
		}
		return nil
	})
	err := g.Wait()
	st.Decode = time.Duration(decode.Load())
	return st, err
}

// hashOne decodes and hashes one image within the memory budget.
func (p pdqHasher) hashOne(ctx context.Context, h *pdq.Hasher, path string, data []byte, rec *results.Record) error {
	// PDQ's float luma and its scratch: 8 bytes per pixel more than the
	// decoded image.
	cost := imgproc.DecodeCost(data, 0, 8)
	if err := p.budget.Acquire(ctx, cost); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer p.budget.Release(cost)
	img, err := pdq.Decode(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	hash, q, err := h.Hash(img)
	if b := img.Bounds(); b.Dx()*b.Dy() > 1<<22 {
		*h = pdq.Hasher{} // its buffers grew with the image: not kept
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	b := img.Bounds()
	rec.Hash, rec.Width, rec.Height, rec.Quality = hash.String(), b.Dx(), b.Dy(), &q
	return nil
}
