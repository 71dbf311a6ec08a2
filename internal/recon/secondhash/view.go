package secondhash

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"

	"github.com/vouchsafe/vouchsafe/derivative"
	"github.com/vouchsafe/vouchsafe/psi"
)

// RevealedView is one decrypted real match.
type RevealedView struct {
	ID   string `json:"id"`
	DBID string `json:"db_id"`
	Hash string `json:"hash,omitempty"`
	// Derivative is the raw visual derivative (base64; derivative.Decode
	// reads it) and DerivativePNG the same image as a base64 PNG.
	Derivative      string `json:"derivative,omitempty"`
	DerivativePNG   string `json:"derivative_png,omitempty"`
	DerivativeError string `json:"derivative_error,omitempty"`
	// SecondHash is the second-hash verdict, when a list is configured.
	SecondHash *Verdict `json:"second_hash,omitempty"`
}

// ViewRevealed describes a revealed match for the operator: its hash, its
// visual derivative (raw and as PNG) and, when second is not nil, the
// second-hash verdict. The derivative is decompressed once for both.
func ViewRevealed(m *psi.RevealedMatch, second *List) RevealedView {
	rv := RevealedView{ID: m.ID.String(), DBID: m.DBID.String()}
	if h, err := m.Hash(); err == nil {
		rv.Hash = h.String()
	}
	var img image.Image
	if d, _ := m.Derivative(); len(d) > 0 {
		rv.Derivative = base64.StdEncoding.EncodeToString(d)
		if g, err := derivative.Decode(d); err != nil {
			rv.DerivativeError = err.Error()
		} else {
			img = g
			var buf bytes.Buffer
			if err := png.Encode(&buf, g); err == nil {
				rv.DerivativePNG = base64.StdEncoding.EncodeToString(buf.Bytes())
			}
		}
	}
	if second != nil {
		var v Verdict
		if img != nil {
			v = second.CheckImage(img)
		} else {
			v = second.Check(m) // says why there is nothing to check
		}
		rv.SecondHash = &v
	}
	return rv
}

// IDStrings returns ids as strings, for the reports of a reveal (the CLI's
// and the service's).
func IDStrings(ids []psi.ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
