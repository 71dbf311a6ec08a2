package engine

import "github.com/vouchsafe/vouchsafe/internal/imgproc"

// preparer turns file bytes into one model input (3×360×360, NCHW, [-1, 1]).
type preparer interface {
	Prepare(data []byte, dst []float32) (width, height int, err error)
	Close() error
}

type imgprocPreparer struct{ p *imgproc.Preparer }

func (p imgprocPreparer) Prepare(data []byte, dst []float32) (int, int, error) {
	info, err := p.p.Prepare(data, dst)
	return info.Width, info.Height, err
}

func (p imgprocPreparer) Close() error { return p.p.Close() }

// newPreparer returns a preparer with its own scratch buffers: one per worker.
func newPreparer(o Options) preparer {
	return imgprocPreparer{imgproc.NewPreparer(imgproc.Options{Exact: o.Exact, AutoOrient: o.AutoOrient})}
}
