package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/vouchsafe/vouchsafe/derivative"
	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/internal/recon/service"
	"github.com/vouchsafe/vouchsafe/internal/shard"
	"github.com/vouchsafe/vouchsafe/psi"
)

// The one-pass voucher command: photos in, vouchers out.
//
//	inputs → engine.Run (decode once: model hash + visual derivative)
//	       → chunks in input order → psi Client.Vouchers (all cores)
//	       → voucher stream file (-o) and/or upload (--upload)
//
// With -o FILE, FILE.log is a journal in JSON Lines: one line per voucher
// written to FILE ({"path","hash","id"}), one per failed input
// ({"path","error"}), and one per upload the server acknowledged
// ({"acked":[ids]}). --resume reads FILE and its journal back: inputs that
// already have a voucher are not decoded again, and vouchers not yet
// acknowledged are resent byte for byte.

// journalEntry is one line of the journal.
type journalEntry struct {
	Path  string   `json:"path,omitempty"`
	Hash  string   `json:"hash,omitempty"`
	ID    string   `json:"id,omitempty"`
	Error string   `json:"error,omitempty"`
	Acked []string `json:"acked,omitempty"`
}

// passState is what an earlier run left: the vouchers of the stream file by
// id (in file order), the inputs journalled with a voucher, and the ids the
// server acknowledged.
type passState struct {
	order   []psi.ID
	voucher map[psi.ID][]byte
	done    map[string]bool // paths with a voucher in the file
	acked   map[psi.ID]bool
}

func newPassState() *passState {
	return &passState{voucher: map[psi.ID][]byte{}, done: map[string]bool{}, acked: map[psi.ID]bool{}}
}

// maxJournalLine bounds one journal line (a path, an error, or the ids of
// one upload).
const maxJournalLine = 4 << 20

// readPassState reads the stream file and its journal, and returns the
// lengths of their complete parts: a run killed mid-write leaves a partial
// frame or line, which the caller cuts off before appending.
func readPassState(out, label string) (st *passState, streamLen, journalLen int64, err error) {
	st = newPassState()
	f, err := os.Open(out)
	if errors.Is(err, os.ErrNotExist) {
		return st, 0, 0, nil
	}
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		return st, 0, 0, nil // killed before the header was written
	}
	br := bufio.NewReader(f)
	vr, err := psi.NewVoucherReader(br)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", out, err)
	}
	if vr.Label() != label {
		return nil, 0, 0, fmt.Errorf("%s: vouchers of account %q, not %q", out, vr.Label(), label)
	}
	streamLen = int64(8 + len(label))
	for {
		v, err := vr.Next()
		if err != nil {
			break // io.EOF, or a frame cut short by a kill
		}
		h, err := psi.ParseVoucherHeader(v)
		if err != nil {
			break
		}
		if _, dup := st.voucher[h.ID]; !dup {
			st.order = append(st.order, h.ID)
		}
		st.voucher[h.ID] = v
		streamLen += int64(4 + len(v))
	}
	jf, err := os.Open(out + ".log")
	if errors.Is(err, os.ErrNotExist) {
		return st, streamLen, 0, nil
	}
	if err != nil {
		return nil, 0, 0, err
	}
	defer jf.Close()
	jr := bufio.NewReaderSize(jf, maxJournalLine)
	for {
		line, err := jr.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, 0, 0, fmt.Errorf("%s.log: line longer than %d bytes", out, maxJournalLine)
		}
		if err != nil {
			break // EOF; a line without its newline was cut short
		}
		var e journalEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, 0, 0, fmt.Errorf("%s.log: line at byte %d: %v", out, journalLen, err)
		}
		journalLen += int64(len(line))
		for _, s := range e.Acked {
			if id, err := psi.ParseID(s); err == nil {
				st.acked[id] = true
			}
		}
		if e.ID != "" {
			if id, err := psi.ParseID(e.ID); err == nil {
				if _, ok := st.voucher[id]; ok {
					st.done[e.Path] = true
				}
			}
		}
	}
	return st, streamLen, journalLen, nil
}

// passChunk is a run of consecutive inputs that have a voucher to make or
// to reuse from the stream file.
type passChunk struct {
	paths  []string
	hashes []string
	trs    []psi.Triple
	old    [][]byte // the voucher from an earlier run, or nil to make one
}

// passSink receives the vouchers of each chunk in input order.
type passSink struct {
	mu      sync.Mutex // journal writes from emit (errors) and from the voucher stage
	stream  *os.File
	journal *bufio.Writer
	jfile   *os.File
	up      *uploader
	state   *passState
	written int
	acked   int
}

func (s *passSink) journalLine(e journalEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal == nil {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	s.journal.Write(b)
	return s.journal.WriteByte('\n')
}

func (s *passSink) flushJournal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal == nil {
		return nil
	}
	if err := s.journal.Flush(); err != nil {
		return err
	}
	return s.jfile.Sync()
}

// write appends new vouchers to the stream file and journals every voucher
// of the chunk. The file is synced before the journal names its vouchers,
// so that the journal never names a voucher the file lost.
func (s *passSink) write(c *passChunk, vs [][]byte) error {
	if s.stream == nil {
		return nil
	}
	var buf []byte
	for i, v := range vs {
		if c.old[i] != nil {
			continue
		}
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(v)))
		buf = append(buf, v...)
	}
	if _, err := s.stream.Write(buf); err != nil {
		return err
	}
	if err := s.stream.Sync(); err != nil {
		return err
	}
	for i := range vs {
		if err := s.journalLine(journalEntry{Path: c.paths[i], Hash: c.hashes[i], ID: c.trs[i].ID.String()}); err != nil {
			return err
		}
	}
	return s.flushJournal()
}

// upload sends the vouchers the server has not acknowledged and journals
// its acknowledgement.
func (s *passSink) upload(ctx context.Context, ids []psi.ID, vs [][]byte) error {
	if s.up == nil {
		return nil
	}
	var send [][]byte
	var sendIDs []psi.ID
	for i, v := range vs {
		if !s.state.acked[ids[i]] {
			send, sendIDs = append(send, v), append(sendIDs, ids[i])
		}
	}
	for len(send) > 0 {
		n := min(len(send), uploadBatchMax)
		res, err := s.up.send(ctx, send[:n])
		if err != nil {
			return err
		}
		var acked []string
		for i, st := range res.Vouchers {
			if st.Status == service.StatusRejected {
				return fmt.Errorf("the server rejected voucher %s: %s", sendIDs[i], st.Error)
			}
			s.state.acked[sendIDs[i]] = true
			acked = append(acked, sendIDs[i].String())
		}
		s.acked += len(acked)
		if err := s.journalLine(journalEntry{Acked: acked}); err != nil {
			return err
		}
		if err := s.flushJournal(); err != nil {
			return err
		}
		send, sendIDs = send[n:], sendIDs[n:]
	}
	return nil
}

// uploadBatchMax stays under the service's default --max-batch.
const uploadBatchMax = service.DefaultMaxBatch

// passOptions are the flags of the one-pass command.
type passOptions struct {
	engine    engine.Options
	shard     shard.Spec // only this shard's inputs
	out       string
	resume    bool
	list      string
	roots     []string
	upload    string
	account   string
	tokenFile string
	chunk     int
	progress  string
	verbose   bool
}

// runVoucherPass runs the one-pass pipeline with a client made for the
// table. The client saves the account itself (ClientOptions.SaveAccount)
// before each new synthetic voucher exists.
func runVoucherPass(env *cliEnv, o passOptions, t *psi.Table, acct *psi.Account, client *psi.Client) int {
	const cmd = "voucher"
	logf := func(format string, a ...any) { fmt.Fprintf(env.stderr, "vouchsafe voucher: "+format+"\n", a...) }
	if o.verbose {
		o.engine.Logf = logf
	}
	if o.resume && o.out == "" {
		return usageErr(env, cmd, errors.New("--resume needs -o FILE"))
	}
	if o.out == "" && o.upload == "" {
		return usageErr(env, cmd, errors.New("photos in need -o FILE or --upload URL for the vouchers out"))
	}
	sink := &passSink{state: newPassState()}
	if o.upload != "" {
		name := o.account
		if name == "" {
			name = acct.Label
		}
		up, err := newUploader(o.upload, name, o.tokenFile, logf)
		if err != nil {
			return usageErr(env, cmd, err)
		}
		sink.up = up
	}
	if o.out != "" {
		st, streamLen, journalLen := newPassState(), int64(0), int64(0)
		if o.resume {
			var err error
			if st, streamLen, journalLen, err = readPassState(o.out, acct.Label); err != nil {
				return usageErr(env, cmd, err)
			}
		}
		sink.state = st
		var err error
		if sink.stream, err = openTruncated(o.out, streamLen); err != nil {
			return usageErr(env, cmd, err)
		}
		defer sink.stream.Close()
		if streamLen == 0 {
			hw, err := psi.NewVoucherWriter(sink.stream, acct.Label)
			if err == nil {
				err = hw.Flush()
			}
			if err != nil {
				return usageErr(env, cmd, err)
			}
		}
		if sink.jfile, err = openTruncated(o.out+".log", journalLen); err != nil {
			return usageErr(env, cmd, err)
		}
		defer sink.jfile.Close()
		sink.journal = bufio.NewWriter(sink.jfile)
		if o.verbose && o.resume {
			logf("resuming %s: %d vouchers, %d inputs done, %d acknowledged", o.out, len(st.order), len(st.done), len(st.acked))
		}
	}

	h, err := engine.NewHasher(o.engine)
	if err != nil {
		return usageErr(env, cmd, err)
	}
	defer h.Close()
	if o.engine.Device == "auto" && o.verbose {
		logf("device auto: %s", h.DeviceChoice())
	}
	enc, err := derivative.NewEncoder()
	if err != nil {
		return usageErr(env, cmd, err)
	}
	defer enc.Close()
	maxDeriv := t.Params().MaxDerivative()
	cfg := engine.Config{
		Outputs: engine.OutHash | engine.OutDerivative,
		Hasher:  h,
		Derive:  func(img image.Image) ([]byte, error) { return enc.Encode(img, maxDeriv) },
	}

	sigCtx, stop := signalContext()
	defer stop()
	// A failed voucher stage stops the engine too.
	ctx, cancel := context.WithCancel(sigCtx)
	defer cancel()

	// Vouchers an earlier run wrote but the server has not acknowledged.
	if sink.up != nil && len(sink.state.order) > 0 {
		var ids []psi.ID
		var vs [][]byte
		for _, id := range sink.state.order {
			if !sink.state.acked[id] {
				ids, vs = append(ids, id), append(vs, sink.state.voucher[id])
			}
		}
		if err := sink.upload(ctx, ids, vs); err != nil {
			return usageErr(env, cmd, err)
		}
	}

	var walkErr error
	var skipped atomic.Int64 // counted by engine.Run's reading goroutine
	in := skipDone(cliInputs(ctx, env, o.list, o.roots, &walkErr), func(in engine.Input) bool {
		if !o.shard.Has(in.Path) {
			return true // another shard's
		}
		if sink.state.done[in.Path] {
			skipped.Add(1)
			return true
		}
		return false
	})
	bar := newProgress(env.stderr, o.progress, func() (int64, bool) {
		if o.list != "" {
			return 0, false
		}
		return countInputs(ctx, o.roots), true
	})

	// The voucher stage: one chunk at a time, EC work on all cores, while
	// the engine decodes the next chunk.
	chunks := make(chan *passChunk, 1)
	vouchErr := make(chan error, 1)
	go func() {
		var err error
		for c := range chunks {
			if err == nil {
				if err = vouchChunk(ctx, client, sink, c); err != nil {
					cancel()
				}
			}
		}
		vouchErr <- err
	}()

	failed := 0
	cur := &passChunk{}
	flush := func() error {
		if len(cur.trs) == 0 {
			return nil
		}
		select {
		case chunks <- cur:
		case <-ctx.Done():
			return ctx.Err()
		}
		cur = &passChunk{}
		return nil
	}
	st, runErr := engine.Run(ctx, cfg, in, func(r engine.Record) error {
		bar.add(1)
		if r.Err != nil {
			failed++
			if sink.journal == nil {
				fmt.Fprintf(env.stderr, "vouchsafe voucher: %v\n", r.Err)
			}
			return sink.journalLine(journalEntry{Path: r.Path, Error: r.Err.Error()})
		}
		hs := r.Hash.String()
		id := acct.DeriveID([]byte(r.Path + "\x00" + hs))
		cur.paths = append(cur.paths, r.Path)
		cur.hashes = append(cur.hashes, hs)
		cur.trs = append(cur.trs, psi.Triple{Hash: psi.Hash(r.Hash), ID: id, Derivative: r.Derivative})
		cur.old = append(cur.old, sink.state.voucher[id]) // written by an earlier run, not journalled
		if len(cur.trs) == o.chunk {
			return flush()
		}
		return nil
	})
	if runErr == nil {
		runErr = flush()
	}
	close(chunks)
	if err := <-vouchErr; err != nil && (runErr == nil || errors.Is(runErr, context.Canceled)) {
		runErr = err
	}
	bar.finish()
	if err := sink.flushJournal(); err != nil && runErr == nil {
		runErr = err
	}
	if walkErr != nil && runErr == nil && !errors.Is(walkErr, context.Canceled) {
		runErr = walkErr
	}
	if runErr != nil {
		return usageErr(env, cmd, runErr)
	}
	where := o.out
	if o.upload != "" {
		where = fmt.Sprintf("%s (%d acknowledged)", o.upload, sink.acked)
		if o.out != "" {
			where = o.out + " and " + where
		}
	}
	fmt.Fprintf(env.stdout, "%d vouchers of %d bytes from %d images (%d skipped as done) to %s (table db_id %s)\n",
		sink.written, t.Params().VoucherSize(t.D()), st.Images-st.Failed, skipped.Load(), where, t.DBID())
	if failed > 0 {
		log := "the messages above"
		if o.out != "" {
			log = o.out + ".log"
		}
		fmt.Fprintf(env.stderr, "vouchsafe voucher: %d of %d inputs failed (see %s)\n", failed, st.Images, log)
		return exitSomeFail
	}
	return exitOK
}

// vouchChunk makes the chunk's new vouchers (Client.Vouchers: the EC work
// on all cores), then writes and uploads them.
func vouchChunk(ctx context.Context, client *psi.Client, sink *passSink, c *passChunk) error {
	var fresh []psi.Triple
	for i, tr := range c.trs {
		if c.old[i] == nil {
			fresh = append(fresh, tr)
		}
	}
	made, err := client.Vouchers(rand.Reader, fresh)
	if err != nil {
		return err
	}
	vs := make([][]byte, len(c.trs))
	ids := make([]psi.ID, len(c.trs))
	for i := range c.trs {
		ids[i] = c.trs[i].ID
		if vs[i] = c.old[i]; vs[i] == nil {
			vs[i], made = made[0], made[1:]
			sink.written++
		}
	}
	if err := sink.write(c, vs); err != nil {
		return err
	}
	return sink.upload(ctx, ids, vs)
}

// openTruncated opens name for appending after its first n bytes (creating
// it when n is 0), cutting off what a killed run left half-written.
func openTruncated(name string, n int64) (*os.File, error) {
	flags := os.O_RDWR | os.O_CREATE
	if n == 0 {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(name, flags, 0o644)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(n); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(n, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
