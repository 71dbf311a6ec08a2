package psi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A voucher stream is how the CLI stores and ships an account's vouchers:
//
//	"VSVS" ‖ version ‖ 0 ‖ BE16(len(label)) ‖ label ‖ frames…
//
// and each frame is BE32(len(voucher)) ‖ voucher. A corrupt voucher inside a
// well-formed frame does not affect the others.

const streamMagic = "VSVS"

// MaxVoucherSize bounds a voucher in a stream (AD_LEN at its maximum, s at
// its maximum, d = 3).
const MaxVoucherSize = prefixSize + 3*pairSize + 8*(MaxS+1) + xSize + zSize + nonceSize + MaxADLen + 2*tagSize

// ErrCorruptFrame is wrapped by VoucherReader.Next for a frame that cannot
// be read; the reader cannot resynchronise after it.
var ErrCorruptFrame = errors.New("psi: corrupt voucher stream frame")

// VoucherWriter writes a voucher stream.
type VoucherWriter struct {
	w   *bufio.Writer
	err error
}

// NewVoucherWriter writes the stream header for the account label, which
// is empty (an unlabelled stream) or passes CheckLabel.
func NewVoucherWriter(w io.Writer, label string) (*VoucherWriter, error) {
	if err := checkStreamLabel(label); err != nil {
		return nil, err
	}
	bw := bufio.NewWriter(w)
	hdr := []byte(streamMagic)
	hdr = append(hdr, FormatVersion, 0)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(label)))
	hdr = append(hdr, label...)
	if _, err := bw.Write(hdr); err != nil {
		return nil, err
	}
	return &VoucherWriter{w: bw}, nil
}

// Write appends one voucher.
func (vw *VoucherWriter) Write(v []byte) error {
	if vw.err != nil {
		return vw.err
	}
	if len(v) > MaxVoucherSize {
		return fmt.Errorf("psi: voucher of %d bytes exceeds %d", len(v), MaxVoucherSize)
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(v)))
	if _, vw.err = vw.w.Write(n[:]); vw.err == nil {
		_, vw.err = vw.w.Write(v)
	}
	return vw.err
}

// Flush writes buffered data to the underlying writer.
func (vw *VoucherWriter) Flush() error {
	if vw.err != nil {
		return vw.err
	}
	return vw.w.Flush()
}

// VoucherReader reads a voucher stream.
type VoucherReader struct {
	r     *bufio.Reader
	label string
	bad   bool
}

// NewVoucherReader reads and checks the stream header.
func NewVoucherReader(r io.Reader) (*VoucherReader, error) {
	br := bufio.NewReader(r)
	var hdr [8]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, fmt.Errorf("psi: voucher stream header: %w", noEOF(err))
	}
	if string(hdr[:4]) != streamMagic {
		return nil, fmt.Errorf("psi: voucher stream: %w", ErrMagic)
	}
	if hdr[4] != FormatVersion || hdr[5] != 0 {
		return nil, fmt.Errorf("psi: voucher stream: %w %d", ErrVersion, hdr[4])
	}
	n := binary.BigEndian.Uint16(hdr[6:])
	if n > MaxLabel {
		return nil, fmt.Errorf("psi: voucher stream: label of %d bytes", n)
	}
	label := make([]byte, n)
	if _, err := io.ReadFull(br, label); err != nil {
		return nil, fmt.Errorf("psi: voucher stream label: %w", noEOF(err))
	}
	if err := checkStreamLabel(string(label)); err != nil {
		return nil, fmt.Errorf("psi: voucher stream: %w", err)
	}
	return &VoucherReader{r: br, label: string(label)}, nil
}

// checkStreamLabel accepts an empty label (a stream that names no
// account) and otherwise applies CheckLabel.
func checkStreamLabel(label string) error {
	if label == "" {
		return nil
	}
	return CheckLabel(label)
}

// Label is the account label from the header: empty, or a label that
// passes CheckLabel.
func (vr *VoucherReader) Label() string { return vr.label }

// Next returns the next voucher, io.EOF at the clean end of the stream, or
// an error wrapping ErrCorruptFrame for a truncated or oversized frame
// (after which the stream cannot be resynchronised and Next keeps failing).
func (vr *VoucherReader) Next() ([]byte, error) {
	if vr.bad {
		return nil, ErrCorruptFrame
	}
	var n [4]byte
	if _, err := io.ReadFull(vr.r, n[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		vr.bad = true
		return nil, fmt.Errorf("%w: truncated length: %v", ErrCorruptFrame, err)
	}
	l := binary.BigEndian.Uint32(n[:])
	if l > MaxVoucherSize {
		vr.bad = true
		return nil, fmt.Errorf("%w: frame of %d bytes exceeds %d", ErrCorruptFrame, l, MaxVoucherSize)
	}
	v := make([]byte, l)
	if _, err := io.ReadFull(vr.r, v); err != nil {
		vr.bad = true
		return nil, fmt.Errorf("%w: truncated voucher: %v", ErrCorruptFrame, noEOF(err))
	}
	return v, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
