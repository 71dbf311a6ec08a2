package tss

import (
	"errors"
	"fmt"
)

// DHF is a detectable hash function key: s polynomials p_1..p_s over F_ℓ,
// each of degree at most t−1. DHF(x₀) = (x₀, p_1(x₀), …, p_s(x₀)).
type DHF struct {
	t, s   int
	coeffs []Elem // row i (0-based) holds p_{i+1}'s t coefficients, constant term first
}

// NewDHF returns the DHF with the given coefficients: s rows of t values, each < ℓ.
func NewDHF(t, s int, coeffs [][]Elem) (*DHF, error) {
	if t < 1 || s < 1 {
		return nil, fmt.Errorf("tss: DHF needs t ≥ 1 and s ≥ 1, got t=%d s=%d", t, s)
	}
	if len(coeffs) != s {
		return nil, fmt.Errorf("tss: DHF has %d rows, want s=%d", len(coeffs), s)
	}
	d := &DHF{t: t, s: s, coeffs: make([]Elem, 0, s*t)}
	for i, row := range coeffs {
		if len(row) != t {
			return nil, fmt.Errorf("tss: DHF row %d has %d coefficients, want t=%d", i, len(row), t)
		}
		for _, c := range row {
			if c >= Modulus {
				return nil, errors.New("tss: DHF coefficient not below ℓ")
			}
		}
		d.coeffs = append(d.coeffs, row...)
	}
	return d, nil
}

// Threshold is t: any t values are uniformly distributed.
func (d *DHF) Threshold() int { return d.t }

// Capacity is s: Detect succeeds with up to s random columns.
func (d *DHF) Capacity() int { return d.s }

// Eval returns DHF(x0), s+1 elements: x0 then p_1(x0) … p_s(x0). x0 must be < ℓ.
func (d *DHF) Eval(x0 Elem) []Elem {
	out := make([]Elem, d.s+1)
	d.EvalInto(out, x0)
	return out
}

// EvalInto writes DHF(x0) into out, which must hold s+1 elements.
func (d *DHF) EvalInto(out []Elem, x0 Elem) {
	out[0] = x0
	for i := range d.s {
		row := d.coeffs[i*d.t : (i+1)*d.t]
		acc := row[d.t-1]
		for j := d.t - 2; j >= 0; j-- { // Horner, reducing once at the end
			acc = mulAdd(acc, x0, row[j])
		}
		out[i+1] = reduce(acc)
	}
}

// ErrNoKernel is returned by Detect when the columns are linearly independent:
// fewer than t+1 real columns (or too few columns at all).
var ErrNoKernel = errors.New("tss: no real subset detected (at most t real columns)")

// Detect returns, in increasing order, the indices of the columns that are
// real DHF values, given m columns of s+1 elements each (x₀ first). It
// expands each column to (1, x₀, …, x₀^{t−1}, r_1, …, r_s), row-reduces the
// (t+s)×m matrix over F_ℓ and returns the union of the supports of the right
// kernel's basis vectors (protocol.md §4.3). With t+1 or more real columns
// and at most s random ones, that is exactly the real columns; with at most t
// real columns the kernel is empty and Detect returns ErrNoKernel. With more
// than s random columns the output can include random columns, which the
// caller's AEAD check catches. Columns must have distinct x₀ (duplicates are
// the caller's to remove).
func Detect(cols [][]Elem, t, s int) ([]int, error) {
	m := len(cols)
	a, pivotCol, isPivot, err := rref(cols, t, s)
	if err != nil {
		return nil, err
	}
	if m == 0 {
		return nil, ErrNoKernel
	}
	// Kernel basis: for each free column f, w_f[f] = 1 and w_f[pivot_i] = −RREF[i][f].
	in := make([]bool, m)
	any := false
	for f := range m {
		if isPivot[f] {
			continue
		}
		any = true
		in[f] = true
		for i, pc := range pivotCol {
			if a[i*m+f] != 0 {
				in[pc] = true
			}
		}
	}
	if !any {
		return nil, ErrNoKernel
	}
	var out []int
	for k, ok := range in {
		if ok {
			out = append(out, k)
		}
	}
	return out, nil
}

// Rank returns the rank of the expanded (t+s)×m matrix of the columns (see
// Detect). Real DHF values span a space of dimension exactly t, so a set of
// at least t real columns has rank t, and a column is consistent with t
// real ones exactly when adding it leaves the rank at t. Reveal uses this
// to check Detect's answer (more than s random columns make the kernel
// cover random columns too) and to classify columns outside a decoded
// subset.
func Rank(cols [][]Elem, t, s int) (int, error) {
	_, pivotCol, _, err := rref(cols, t, s)
	return len(pivotCol), err
}

// rref expands the columns and brings the (t+s)×m matrix to reduced
// row-echelon form over F_ℓ; it returns the row-major matrix, the pivot
// column of each pivot row and which columns are pivots.
func rref(cols [][]Elem, t, s int) (a []Elem, pivotCol []int, isPivot []bool, err error) {
	if t < 1 || s < 1 {
		return nil, nil, nil, fmt.Errorf("tss: Detect needs t ≥ 1 and s ≥ 1")
	}
	m := len(cols)
	rows := t + s
	for k, c := range cols {
		if len(c) != s+1 {
			return nil, nil, nil, fmt.Errorf("tss: column %d has %d elements, want s+1=%d", k, len(c), s+1)
		}
		for _, v := range c {
			if v >= Modulus {
				return nil, nil, nil, fmt.Errorf("tss: column %d has an element not below ℓ", k)
			}
		}
	}
	// Row-major (t+s)×m matrix.
	a = make([]Elem, rows*m)
	for k, c := range cols {
		p := Elem(1)
		for i := range t {
			a[i*m+k] = p
			p = mul(p, c[0])
		}
		for i := range s {
			a[(t+i)*m+k] = c[1+i]
		}
	}
	pivotCol = make([]int, 0, rows)
	isPivot = make([]bool, m)
	r := 0
	for c := 0; c < m && r < rows; c++ {
		p := -1
		for i := r; i < rows; i++ {
			if a[i*m+c] != 0 {
				p = i
				break
			}
		}
		if p < 0 {
			continue
		}
		if p != r {
			for j := range m {
				a[p*m+j], a[r*m+j] = a[r*m+j], a[p*m+j]
			}
		}
		rr := a[r*m : (r+1)*m]
		if iv := inv(rr[c]); iv != 1 {
			for j := c; j < m; j++ {
				rr[j] = mul(rr[j], iv)
			}
		}
		for i := range rows {
			if i == r {
				continue
			}
			row := a[i*m : (i+1)*m]
			f := row[c]
			if f == 0 {
				continue
			}
			// row −= f·rr as row + (−f)·rr, one reduction per entry.
			nf := neg(f)
			for j := c; j < m; j++ {
				if rr[j] != 0 {
					row[j] = reduce(mulAdd(nf, rr[j], row[j]))
				}
			}
		}
		pivotCol = append(pivotCol, c)
		isPivot[c] = true
		r++
	}
	return a, pivotCol, isPivot, nil
}
