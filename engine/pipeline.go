package engine

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vouchsafe/vouchsafe/internal/imgproc"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
)

// Record is the result for one input: a hash, or the error that stopped it.
type Record struct {
	Seq    int64  // position in the input stream, from 0
	Path   string // as given
	Hash   Hash   // valid when Err is nil
	Width  int    // of the decoded image before resizing (after orientation)
	Height int
	Err    error // why this input has no hash; the run goes on
}

// batch is one inference batch: the input tensor, filled in place by the
// decode workers, and the records of its slots.
type batch struct {
	n       int // slots assigned
	data    []float32
	emb     []float32
	recs    []Record
	mem     [][]byte     // in-memory inputs, by slot
	pending atomic.Int32 // slots still decoding, plus one while the dispatcher may add more
}

// RunStats summarises a run.
type RunStats struct {
	Images, Failed int
	Batches        int
	Decode, Infer  time.Duration // summed over workers / calls
}

// flushAfter is how long a partly filled batch waits for more input when the
// input stream is slow (stdin), so results keep flowing.
const flushAfter = 50 * time.Millisecond

// Run hashes every input received from inputs and calls emit once per input, in
// input order, from a single goroutine. A file that cannot be read or decoded
// yields a Record with Err set and the run goes on; Run returns an error only
// when the run cannot go on (inference failed, ctx was cancelled, emit failed).
// Memory stays bounded whatever the number of paths: at most a few batches
// are in flight.
func (h *Hasher) Run(ctx context.Context, inputs <-chan Input, emit func(Record) error) (RunStats, error) {
	var st RunStats
	bs := h.DefaultBatch()
	workers := h.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Enough batches that every stream has one while decode fills two more.
	inflight := h.streams() + 2

	free := make(chan *batch, inflight)
	for range inflight {
		free <- &batch{
			data: make([]float32, bs*imageFloats),
			emb:  make([]float32, bs*EmbeddingSize),
			recs: make([]Record, bs),
			mem:  make([][]byte, bs),
		}
	}
	type work struct {
		b    *batch
		slot int
	}
	workCh := make(chan work, workers)
	inferCh := make(chan *batch, inflight)
	outCh := make(chan []Record, inflight)

	g, ctx := errgroup.WithContext(ctx)
	// seal drops one pending count; whoever drops the last hands the batch on.
	seal := func(b *batch) {
		if b.pending.Add(-1) == 0 {
			inferCh <- b // never blocks: capacity equals the number of batches
		}
	}

	// Dispatcher: assigns each path a slot in the batch being filled.
	g.Go(func() error {
		defer close(workCh)
		var cur *batch
		var seq int64
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		finish := func() {
			if cur != nil {
				seal(cur)
				cur = nil
			}
		}
		defer finish()
		for {
			var in Input
			var ok bool
			// Take input while it is there; only a partly filled batch that
			// waits flushAfter for more (a slow stdin) is sent short.
			select {
			case in, ok = <-inputs:
			default:
				if cur != nil {
					timer.Reset(flushAfter)
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case in, ok = <-inputs:
				case <-timer.C:
					finish()
					continue
				}
				timer.Stop()
			}
			if !ok {
				return nil
			}
			if cur == nil {
				select {
				case cur = <-free:
				case <-ctx.Done():
					return ctx.Err()
				}
				cur.n = 0
				cur.pending.Store(1)
			}
			slot := cur.n
			cur.n++
			cur.recs[slot] = Record{Seq: seq, Path: in.Path, Err: in.Err}
			cur.mem[slot] = in.Data
			seq++
			cur.pending.Add(1)
			select {
			case workCh <- work{cur, slot}:
			case <-ctx.Done():
				return ctx.Err()
			}
			if cur.n == bs {
				finish()
			}
		}
	})

	// Decode workers, under one memory budget.
	budget := h.opts.Budget
	if budget == nil {
		budget = imgproc.NewBudget(0)
	}
	minSide := imgproc.Side // the fast path's DCT-domain downscale
	if h.opts.Exact {
		minSide = 0
	}
	var decodeNanos atomic.Int64
	wg := make(chan struct{}, workers)
	for range workers {
		g.Go(func() error {
			defer func() { wg <- struct{}{} }()
			prep := newPreparer(h.opts)
			defer prep.Close()
			for w := range workCh {
				t0 := time.Now()
				r := &w.b.recs[w.slot]
				dst := w.b.data[w.slot*imageFloats : (w.slot+1)*imageFloats]
				data := w.b.mem[w.slot]
				w.b.mem[w.slot] = nil
				var err error
				if r.Err != nil {
					// The walker could not list or stat it.
				} else if data == nil {
					data, err = safeio.ReadFile(r.Path, safeio.MaxImageFile)
					r.Err = err
				}
				if r.Err == nil {
					cost := imgproc.DecodeCost(data, minSide, 0)
					if err = budget.Acquire(ctx, cost); err == nil {
						r.Width, r.Height, err = prep.Prepare(data, dst)
						budget.Release(cost)
					}
					if err != nil {
						r.Err = fmt.Errorf("%s: %w", r.Path, err)
					}
				}
				decodeNanos.Add(int64(time.Since(t0)))
				seal(w.b)
			}
			return nil
		})
	}
	// Close inferCh once the dispatcher and all workers are done, so no seal can follow.
	g.Go(func() error {
		for range workers {
			<-wg
		}
		// The dispatcher's final seal happens before workCh closes.
		close(inferCh)
		return nil
	})

	// Inference: one goroutine per stream keeps the device busy while decode
	// fills the other batches; on a GPU two streams overlap copies with compute.
	var inferNanos atomic.Int64
	var batches atomic.Int32
	streams := h.streams()
	var live atomic.Int32
	live.Store(int32(streams))
	for range streams {
		g.Go(func() error {
			defer func() {
				if live.Add(-1) == 0 {
					close(outCh)
				}
			}()
			for b := range inferCh {
				t0 := time.Now()
				if err := h.Embed(b.data, b.n, b.emb); err != nil {
					return err
				}
				inferNanos.Add(int64(time.Since(t0)))
				batches.Add(1)
				recs := make([]Record, b.n)
				for i := range b.n {
					recs[i] = b.recs[i]
					if recs[i].Err == nil {
						recs[i].Hash = h.proj.Hash(b.emb[i*EmbeddingSize : (i+1)*EmbeddingSize])
					}
				}
				free <- b
				select {
				case outCh <- recs:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}

	// Emit in input order. Slots are assigned in order, so the reorder buffer
	// holds at most the records of the batches in flight.
	g.Go(func() error {
		pending := map[int64]Record{}
		var next int64
		for recs := range outCh {
			for _, r := range recs {
				pending[r.Seq] = r
			}
			for {
				r, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				st.Images++
				if r.Err != nil {
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
	st.Decode = time.Duration(decodeNanos.Load())
	st.Infer = time.Duration(inferNanos.Load())
	st.Batches = int(batches.Load())
	return st, err
}
