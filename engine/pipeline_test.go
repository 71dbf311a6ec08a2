package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// failFirst is the model's real session, except that its first call fails.
type failFirst struct {
	session
	calls atomic.Int32
}

var errInjected = errors.New("injected inference failure")

func (s *failFirst) Run(input []float32, inShape []int64, output []float32, outShape []int64) error {
	if s.calls.Add(1) == 1 {
		return errInjected
	}
	return s.session.Run(input, inShape, output, outShape)
}

// With several inference streams, one stream's failure must stop the whole
// run at once: the other streams go on taking batches, and emit waits for
// the lost one, so a run that only learnt of the failure once every stream
// had returned would hang here (the reason Run's stage workers belong to
// its one errgroup, a WaitGroup per stage only closing its channel).
func TestRunInferErrorManyStreams(t *testing.T) {
	h := newTestHasher(t, Options{Batch: 1, Streams: 3, Workers: 2})
	h.sess = &failFirst{session: h.sess}
	ps := photos(t)
	var paths []string
	for len(paths) < 12 {
		paths = append(paths, ps...)
	}
	// A run that hangs on the lost stream fails here within a minute,
	// not at the global test timeout.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := h.Run(ctx, files(paths), func(Record) error { return nil })
	switch {
	case errors.Is(err, errInjected):
	case errors.Is(err, context.DeadlineExceeded):
		t.Fatalf("Run hung on the failed stream until the 1-minute deadline: %v", err)
	default:
		t.Fatalf("Run error = %v, want %v", err, errInjected)
	}
}
