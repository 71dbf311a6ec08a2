package engine

import (
	"context"
	"fmt"
	"image"
	"iter"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vouchsafe/vouchsafe/internal/imgproc"
	"github.com/vouchsafe/vouchsafe/internal/safeio"
	"github.com/vouchsafe/vouchsafe/pdq"
)

// Input is one image: a file, or encoded bytes already in memory (Data; Path
// then only names it in records and errors). Err is set when the file could
// not even be listed; Run records it as a failure.
type Input struct {
	Path string
	Data []byte
	Err  error
}

// Outputs is the set of results Run computes from each decoded image.
type Outputs uint8

const (
	// OutHash is the NeuralHash-model hash (Config.Hasher, batched inference).
	OutHash Outputs = 1 << iota
	// OutPDQ is Meta's PDQ hash and its quality score. With OutPDQ every
	// output comes from PDQ's decode (libjpeg as Meta's tools use it), so a
	// JPEG's model hash may differ by a bit or two from OutHash alone.
	OutPDQ
	// OutDerivative is Config.Derive applied to the decoded image: the
	// visual derivative a psi voucher carries.
	OutDerivative
)

// Config says what [Run] computes and with how many goroutines.
type Config struct {
	// Outputs selects the results; every one comes from the same decode.
	Outputs Outputs
	// Hasher runs the model for OutHash. Its Options also give the batch
	// size, decode workers, inference streams, Exact and AutoOrient.
	Hasher *Hasher
	// Derive makes the visual derivative for OutDerivative. It is called
	// concurrently from the decode workers; img is only valid during the call.
	Derive func(img image.Image) ([]byte, error)
	// Workers is the number of decode goroutines when Hasher is nil; 0 means
	// one per CPU.
	Workers int
	// AutoOrient applies the EXIF orientation when Hasher is nil.
	AutoOrient bool
	// Budget bounds the memory of the images being decoded, over all
	// workers; nil means Hasher's Options.Budget, else a budget of
	// imgproc.DefaultBudget for this run.
	Budget *imgproc.Budget
}

// Record is the result for one [Input]: what Config.Outputs asked for, or the
// error that stopped it.
type Record struct {
	Seq        int64  // position in the input stream, from 0
	Path       string // as given
	Hash       Hash   // OutHash
	PDQ        pdq.Hash
	Quality    int    // PDQ quality score, 0 to 100
	Derivative []byte // OutDerivative
	Width      int    // of the stored image, before any resizing
	Height     int
	Err        error // why this input has no results; the run goes on
}

// RunStats summarises a run.
type RunStats struct {
	Images, Failed int
	// Decoded counts image decodes: at most one per input, whatever the
	// number of outputs.
	Decoded int
	Batches int
	Decode  time.Duration // summed over workers: read, decode and every per-image output
	Infer   time.Duration // summed over inference calls
}

// flushAfter is how long a partly filled batch waits for more input when the
// input stream is slow (stdin), so results keep flowing.
const flushAfter = 50 * time.Millisecond

// batchNoModel is the batch size without inference: batches then only
// carry records to the emit stage in order.
const batchNoModel = 16

// Run decodes every input once, computes cfg.Outputs from that decode and
// calls emit once per input, in input order, from a single goroutine. A file
// that cannot be read or decoded yields a Record with Err set and the run
// goes on; Run returns an error only when the run cannot go on (inference
// failed, ctx was cancelled, emit failed). Memory stays bounded whatever the
// number of inputs: at most a few batches are in flight.
//
// Run pulls inputs from its own goroutine. If ctx is cancelled while the
// iterator is blocked (reading stdin, say), Run returns without waiting for it.
//
// The stages are: read (the iterator) → dispatch (slots in batches) → decode
// (workers: decode once, then resize, PDQ, derivative) → infer (batched
// model calls) → emit (batches back in order, the one reorder stage).
func Run(ctx context.Context, cfg Config, inputs iter.Seq[Input], emit func(Record) error) (RunStats, error) {
	r, err := newRun(cfg)
	if err != nil {
		return RunStats{}, err
	}
	g, ctx := errgroup.WithContext(ctx)
	src := make(chan Input, r.bs)
	go r.read(ctx, inputs, src)
	g.Go(func() error { return r.dispatch(ctx, src) })
	// Every worker belongs to g, so that the first failure anywhere cancels
	// every stage at once; a stage's WaitGroup only says when to close its
	// output. (A nested errgroup per stage would report a failed inference
	// stream only once its sibling streams returned, and they wait for
	// batches that never come: TestRunInferErrorManyStreams.)
	var decoders sync.WaitGroup
	for range r.workers {
		decoders.Add(1)
		g.Go(func() error {
			defer decoders.Done()
			return r.decode(ctx)
		})
	}
	g.Go(func() error {
		// Every seal happens in a decode worker or in dispatch, which
		// closes work before the workers can all return.
		decoders.Wait()
		close(r.ready)
		return nil
	})
	var inferers sync.WaitGroup
	for range r.streams {
		inferers.Add(1)
		g.Go(func() error {
			defer inferers.Done()
			return r.infer(ctx)
		})
	}
	g.Go(func() error {
		inferers.Wait()
		close(r.done)
		return nil
	})
	g.Go(func() error { return r.emit(emit) })
	err = g.Wait()
	r.st.Decoded = int(r.decodes.Load())
	r.st.Decode = time.Duration(r.decodeNanos.Load())
	r.st.Infer = time.Duration(r.inferNanos.Load())
	r.st.Batches = int(r.batches.Load())
	return r.st, err
}

// Run hashes every input with the model: Run with OutHash only.
func (h *Hasher) Run(ctx context.Context, inputs iter.Seq[Input], emit func(Record) error) (RunStats, error) {
	return Run(ctx, Config{Outputs: OutHash, Hasher: h}, inputs, emit)
}

// batch is one inference batch: the input tensor, filled in place by the
// decode workers, and the records of its slots.
type batch struct {
	seq     int64 // position of the batch in the run: the emit order
	n       int   // slots assigned
	data    []float32
	emb     []float32
	recs    []Record
	mem     [][]byte     // in-memory inputs, by slot
	pending atomic.Int32 // slots still decoding, plus one while dispatch may add more
}

type slot struct {
	b *batch
	i int
}

// run is the state of one Run shared by its stages.
type run struct {
	cfg                  Config
	h                    *Hasher
	bs, workers, streams int
	inflight             int
	decodeOpts           imgproc.DecodeOptions
	budget               *imgproc.Budget
	free                 chan *batch // batches not in use
	work                 chan slot   // dispatch → decode
	ready                chan *batch // decode → infer: sealed batches
	done                 chan *batch // infer → emit
	decodes, decodeNanos atomic.Int64
	inferNanos           atomic.Int64
	batches              atomic.Int32
	st                   RunStats // owned by emit
}

func newRun(cfg Config) (*run, error) {
	r := &run{cfg: cfg, h: cfg.Hasher, bs: batchNoModel, workers: cfg.Workers, streams: 1}
	if cfg.Outputs == 0 {
		return nil, fmt.Errorf("engine: no outputs requested")
	}
	if cfg.Outputs&OutHash != 0 && r.h == nil {
		return nil, fmt.Errorf("engine: OutHash needs a Hasher")
	}
	if cfg.Outputs&OutDerivative != 0 && cfg.Derive == nil {
		return nil, fmt.Errorf("engine: OutDerivative needs Derive")
	}
	exact, orient := false, cfg.AutoOrient
	if r.h != nil {
		r.workers = r.h.opts.Workers
		exact, orient = r.h.opts.Exact, r.h.opts.AutoOrient
		if cfg.Outputs&OutHash != 0 {
			r.bs, r.streams = r.h.DefaultBatch(), r.h.streams()
		}
	}
	if r.workers <= 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	r.budget = cfg.Budget
	if r.budget == nil && r.h != nil {
		r.budget = r.h.opts.Budget
	}
	if r.budget == nil {
		r.budget = imgproc.NewBudget(0)
	}
	r.decodeOpts.AutoOrient = orient
	if orient && cfg.Outputs&OutPDQ != 0 {
		return nil, fmt.Errorf("engine: PDQ hashes images as stored, without EXIF orientation (as its reference)")
	}
	// The model and the derivative (64×64) are content with a DCT-domain
	// downscale to 360 pixels; PDQ decodes in full, as its reference.
	if !exact {
		r.decodeOpts.MinSide = InputSize
	}
	// Enough batches that every stream has one while decode fills two more.
	r.inflight = r.streams + 2
	r.free = make(chan *batch, r.inflight)
	for range r.inflight {
		b := &batch{recs: make([]Record, r.bs), mem: make([][]byte, r.bs)}
		if cfg.Outputs&OutHash != 0 {
			b.data = make([]float32, r.bs*imageFloats)
			b.emb = make([]float32, r.bs*EmbeddingSize)
		}
		r.free <- b
	}
	r.work = make(chan slot, r.workers)
	r.ready = make(chan *batch, r.inflight) // seal never blocks
	r.done = make(chan *batch, r.inflight)
	return r, nil
}

// read is the read stage: it pulls the iterator into src and closes src at
// the end. Cancelling ctx stops it at the next input.
func (r *run) read(ctx context.Context, inputs iter.Seq[Input], src chan<- Input) {
	defer close(src)
	for in := range inputs {
		select {
		case src <- in:
		case <-ctx.Done():
			return
		}
	}
}

// seal drops one pending count; whoever drops the last hands the batch on.
func (r *run) seal(b *batch) {
	if b.pending.Add(-1) == 0 {
		r.ready <- b
	}
}

// dispatch is the dispatch stage: it gives each input a slot in the batch
// being filled and hands the slot to the decode workers.
func (r *run) dispatch(ctx context.Context, src <-chan Input) error {
	defer close(r.work)
	var cur *batch
	var seq, bseq int64
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	finish := func() {
		if cur != nil {
			r.seal(cur)
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
		case in, ok = <-src:
		default:
			if cur != nil {
				timer.Reset(flushAfter)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case in, ok = <-src:
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
			case cur = <-r.free:
			case <-ctx.Done():
				return ctx.Err()
			}
			cur.seq, cur.n = bseq, 0
			bseq++
			cur.pending.Store(1)
		}
		i := cur.n
		cur.n++
		cur.recs[i] = Record{Seq: seq, Path: in.Path, Err: in.Err}
		cur.mem[i] = in.Data
		seq++
		cur.pending.Add(1)
		select {
		case r.work <- slot{cur, i}:
		case <-ctx.Done():
			r.seal(cur) // the slot will not be decoded
			return ctx.Err()
		}
		if cur.n == r.bs {
			finish()
		}
	}
}

// decoder is one decode worker's reusable state.
type decoder struct {
	dec   *imgproc.Decoder
	rs    imgproc.Resizer
	img   imgproc.RGB
	small *imgproc.RGB
	pdq   pdq.Hasher
}

// decode is one decode worker: each slot's image is decoded once and every
// requested per-image output computed from it.
func (r *run) decode(ctx context.Context) error {
	d := &decoder{dec: imgproc.NewDecoder(), small: imgproc.NewRGB(InputSize, InputSize)}
	defer d.dec.Close()
	for s := range r.work {
		t0 := time.Now()
		r.decodeSlot(ctx, d, s.b, s.i)
		r.decodeNanos.Add(int64(time.Since(t0)))
		r.seal(s.b)
	}
	return nil
}

func (r *run) decodeSlot(ctx context.Context, d *decoder, b *batch, i int) {
	rec := &b.recs[i]
	data := b.mem[i]
	b.mem[i] = nil
	if rec.Err != nil {
		return // the walker could not list or stat it
	}
	if data == nil {
		var err error
		if data, err = safeio.ReadFile(rec.Path, safeio.MaxImageFile); err != nil {
			rec.Err = err
			return
		}
	}
	out := r.cfg.Outputs
	// Every worker decodes under one memory budget; PDQ decodes in full and
	// keeps 8 more bytes per pixel.
	minSide, extra := r.decodeOpts.MinSide, int64(0)
	if out&OutPDQ != 0 {
		minSide, extra = 0, 8
	}
	cost := imgproc.DecodeCost(data, minSide, extra)
	if err := r.budget.Acquire(ctx, cost); err != nil {
		rec.Err = fmt.Errorf("%s: %w", rec.Path, err)
		return
	}
	defer r.budget.Release(cost)
	r.decodes.Add(1)
	var img image.Image
	if out&OutPDQ != 0 {
		// PDQ decodes as Meta's tools do (libjpeg through ImageMagick), so
		// its hashes are theirs; the other outputs share that decode.
		m, err := pdq.Decode(data)
		if err != nil {
			rec.Err = fmt.Errorf("%s: %w", rec.Path, err)
			return
		}
		if rec.PDQ, rec.Quality, err = d.pdq.Hash(m); err != nil {
			rec.Err = fmt.Errorf("%s: pdq: %w", rec.Path, err)
			return
		}
		img = m
		rec.Width, rec.Height = m.Bounds().Dx(), m.Bounds().Dy()
		if out&OutHash != 0 {
			d.img = *imgproc.ToRGB(m)
		}
	} else {
		info, err := d.dec.Decode(data, &d.img, r.decodeOpts)
		if err != nil {
			rec.Err = fmt.Errorf("%s: %w", rec.Path, err)
			return
		}
		img = &d.img
		rec.Width, rec.Height = info.Width, info.Height
	}
	if out&OutHash != 0 {
		if err := d.rs.Resize(d.small, &d.img); err != nil {
			rec.Err = fmt.Errorf("%s: %w", rec.Path, err)
			return
		}
		if err := imgproc.ToTensor(b.data[i*imageFloats:(i+1)*imageFloats], d.small); err != nil {
			rec.Err = fmt.Errorf("%s: %w", rec.Path, err)
			return
		}
	}
	if out&OutDerivative != 0 {
		var err error
		if rec.Derivative, err = r.cfg.Derive(img); err != nil {
			rec.Err = fmt.Errorf("%s: derivative: %w", rec.Path, err)
			return
		}
	}
}

// infer is one inference stream: it runs the model on each sealed batch
// and projects the embeddings. On a GPU two streams overlap copies with
// compute; without OutHash it only passes batches on.
func (r *run) infer(ctx context.Context) error {
	for b := range r.ready {
		if r.cfg.Outputs&OutHash != 0 && slices.ContainsFunc(b.recs[:b.n], func(rec Record) bool { return rec.Err == nil }) {
			// A batch of failures only (a list of missing files) needs no model.
			t0 := time.Now()
			if err := r.h.Embed(b.data, b.n, b.emb); err != nil {
				return err
			}
			r.inferNanos.Add(int64(time.Since(t0)))
			for i := range b.n {
				if b.recs[i].Err == nil {
					b.recs[i].Hash = r.h.proj.Hash(b.emb[i*EmbeddingSize : (i+1)*EmbeddingSize])
				}
			}
		}
		r.batches.Add(1)
		select {
		case r.done <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// emit is the one reorder stage: batches are numbered as dispatch fills
// them, so holding the out-of-order ones needs at most inflight entries.
func (r *run) emit(emit func(Record) error) error {
	held := make([]*batch, r.inflight)
	var next int64
	for b := range r.done {
		held[b.seq%int64(r.inflight)] = b
		for {
			k := next % int64(r.inflight)
			b := held[k]
			if b == nil || b.seq != next {
				break
			}
			held[k] = nil
			next++
			for i := range b.n {
				rec := b.recs[i]
				b.recs[i] = Record{}
				r.st.Images++
				if rec.Err != nil {
					r.st.Failed++
				}
				if err := emit(rec); err != nil {
					return err
				}
			}
			r.free <- b // never blocks: capacity equals the number of batches
		}
	}
	return nil
}
