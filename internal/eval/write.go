package eval

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteCSV writes one row per hasher and transform (and one "negatives" row
// per hasher): the summary statistics, thresholds and recalls.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"hasher", "bits", "transform", "pairs", "failed", "mean", "median", "p95", "max", "exact",
		"threshold_fpr1e-3", "recall_fpr1e-3", "threshold_fpr1e-4", "recall_fpr1e-4", "collisions"})
	for _, h := range r.Hashers {
		b := strconv.Itoa(h.Bits)
		th3, th4 := strconv.Itoa(h.Thresholds[0]), strconv.Itoa(h.Thresholds[1])
		neg := &TransformReport{Name: "negatives", Hist: h.Negatives, Pairs: h.NegativePairs}
		neg.summarise([2]int{-1, -1})
		cw.Write([]string{h.Name, b, "negatives", strconv.Itoa(h.NegativePairs), "0", ff(neg.Mean),
			strconv.Itoa(neg.Median), strconv.Itoa(neg.P95), strconv.Itoa(neg.Max), strconv.Itoa(neg.Exact),
			th3, "", th4, "", strconv.Itoa(h.Collisions)})
		for _, t := range h.Transforms {
			cw.Write([]string{h.Name, b, t.Name, strconv.Itoa(t.Pairs), strconv.Itoa(t.Failed), ff(t.Mean),
				strconv.Itoa(t.Median), strconv.Itoa(t.P95), strconv.Itoa(t.Max), strconv.Itoa(t.Exact),
				th3, ff(t.Recall[0]), th4, ff(t.Recall[1]), ""})
		}
	}
	cw.Flush()
	return cw.Error()
}

func ff(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }

// Headline returns a Markdown table: recall at FPR 1e-3 per transform (rows)
// and hasher (columns).
func (r *Report) Headline() string {
	var b strings.Builder
	b.WriteString("| transform |")
	for _, h := range r.Hashers {
		fmt.Fprintf(&b, " %s (t=%d/%d) |", h.Name, h.Thresholds[0], h.Bits)
	}
	b.WriteString("\n|---|")
	for range r.Hashers {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	if len(r.Hashers) == 0 {
		return b.String()
	}
	for i, t := range r.Hashers[0].Transforms {
		fmt.Fprintf(&b, "| %s |", t.Name)
		for _, h := range r.Hashers {
			fmt.Fprintf(&b, " %.2f |", h.Transforms[i].Recall[0])
		}
		b.WriteString("\n")
	}
	return b.String()
}

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
	"#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1"}

// WriteHTML writes a self-contained page (inline SVG, no script, no
// external resources): the summary tables, the distance histograms of each
// transform against the negatives, and ROC curves per hasher.
func (r *Report) WriteHTML(w io.Writer) error {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>vouchsafe eval</title><style>
body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}
.grid{display:flex;flex-wrap:wrap;gap:8px}.cap{font-size:12px}</style></head><body>
<h1>Perceptual hash evaluation</h1>`)
	fmt.Fprintf(&b, "<p>%d photos, %d negative pairs (all pairs of distinct originals).", len(r.Photos), len(r.Photos)*(len(r.Photos)-1)/2)
	if len(r.Skipped) > 0 {
		fmt.Fprintf(&b, " Skipped: %s.", html.EscapeString(strings.Join(r.Skipped, "; ")))
	}
	b.WriteString("</p><h2>Recall at FPR 10<sup>-3</sup> and 10<sup>-4</sup></h2><table><tr><th>transform</th>")
	for _, h := range r.Hashers {
		fmt.Fprintf(&b, "<th>%s<br>t=%d / %d (1e-3)</th><th>%s<br>t=%d / %d (1e-4)</th>", html.EscapeString(h.Name), h.Thresholds[0], h.Bits, html.EscapeString(h.Name), h.Thresholds[1], h.Bits)
	}
	b.WriteString("</tr>")
	if len(r.Hashers) > 0 {
		for i, t := range r.Hashers[0].Transforms {
			fmt.Fprintf(&b, "<tr><th>%s</th>", html.EscapeString(t.Name))
			for _, h := range r.Hashers {
				ht := h.Transforms[i]
				fmt.Fprintf(&b, "<td>%.3f</td><td>%.3f</td>", ht.Recall[0], ht.Recall[1])
			}
			b.WriteString("</tr>")
		}
		b.WriteString("<tr><th>collisions at distance 0</th>")
		for _, h := range r.Hashers {
			fmt.Fprintf(&b, "<td colspan=2>%d of %d</td>", h.Collisions, h.NegativePairs)
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</table>")
	for _, h := range r.Hashers {
		fmt.Fprintf(&b, "<h2>%s (%d bits)</h2><h3>Distance histograms (blue: transform; grey: negatives)</h3><div class=grid>", html.EscapeString(h.Name), h.Bits)
		for _, t := range h.Transforms {
			fmt.Fprintf(&b, "<div><div class=cap>%s: mean %.1f, median %d, max %d</div>", html.EscapeString(t.Name), t.Mean, t.Median, t.Max)
			histogramSVG(&b, h, t)
			b.WriteString("</div>")
		}
		fmt.Fprintf(&b, "</div><h3>ROC (false-positive rate on a log scale)</h3><p class=cap>One curve per transform: recall against the false-positive rate on the %d negative pairs as the distance threshold goes from 0 to %d bits. A rate of 0 is drawn at the left edge; below 1/%d the rate cannot be measured with this many photos.</p>", h.NegativePairs, h.Bits, max(1, h.NegativePairs))
		rocSVG(&b, h)
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func histogramSVG(b *strings.Builder, h *HasherReport, t *TransformReport) {
	const W, H = 220.0, 90.0
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g">`, W, H+14, W, H+14)
	fmt.Fprintf(b, `<rect x="0" y="0" width="%g" height="%g" fill="#fafafa" stroke="#ccc"/>`, W, H)
	bw := W / float64(h.Bits+1)
	bar := func(hist []int, n int, color string, op float64) {
		if n == 0 {
			return
		}
		peak := 0.0
		for _, c := range hist {
			peak = math.Max(peak, float64(c)/float64(n))
		}
		for d, c := range hist {
			if c == 0 {
				continue
			}
			v := float64(c) / float64(n) / peak * (H - 4)
			fmt.Fprintf(b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s" fill-opacity="%g"/>`, float64(d)*bw, H-v, math.Max(bw, 1), v, color, op)
		}
	}
	bar(h.Negatives, h.NegativePairs, "#888", 0.6)
	bar(t.Hist, t.Pairs, "#1f77b4", 0.8)
	if th := h.Thresholds[0]; th >= 0 {
		x := (float64(th) + 1) * bw
		fmt.Fprintf(b, `<line x1="%.2f" y1="0" x2="%.2f" y2="%g" stroke="#d62728" stroke-dasharray="3,2"/>`, x, x, H)
	}
	fmt.Fprintf(b, `<text x="0" y="%g" font-size="10">0</text><text x="%g" y="%g" font-size="10" text-anchor="end">%d bits</text></svg>`, H+12, W, H+12, h.Bits)
}

func rocSVG(b *strings.Builder, h *HasherReport) {
	const W, H, L, B = 520.0, 320.0, 40.0, 30.0
	pw, ph := W-L-160, H-B-10
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g">`, W, H, W, H)
	fmt.Fprintf(b, `<rect x="%g" y="10" width="%g" height="%g" fill="#fafafa" stroke="#ccc"/>`, L, pw, ph)
	// x: log10 FPR from -4 to 0; FPR 0 is drawn at the left edge.
	xOf := func(f float64) float64 {
		lf := -4.0
		if f > 0 {
			lf = math.Max(-4, math.Log10(f))
		}
		return L + (lf+4)/4*pw
	}
	yOf := func(t float64) float64 { return 10 + (1-t)*ph }
	for e := -4; e <= 0; e++ {
		x := xOf(math.Pow(10, float64(e)))
		fmt.Fprintf(b, `<line x1="%.1f" y1="10" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" font-size="10" text-anchor="middle">1e%d</text>`, x, x, 10+ph, x, 10+ph+12, e)
	}
	for _, v := range []float64{0, 0.5, 1} {
		fmt.Fprintf(b, `<text x="%g" y="%.1f" font-size="10" text-anchor="end">%.1f</text>`, L-4, yOf(v)+3, v)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%g" font-size="11" text-anchor="middle">false-positive rate</text>`, L+pw/2, H-2)
	for i, t := range h.Transforms {
		fpr, tpr := h.ROC(t)
		var pts []string
		// Steps: between two thresholds' false-positive rates, the
		// lower threshold's recall is what is achievable.
		for k := range fpr {
			if k > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(fpr[k]), yOf(tpr[k-1])))
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(fpr[k]), yOf(tpr[k])))
		}
		c := palette[i%len(palette)]
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, c, strings.Join(pts, " "))
		fmt.Fprintf(b, `<rect x="%g" y="%d" width="10" height="3" fill="%s"/><text x="%g" y="%d" font-size="10">%s</text>`, L+pw+10, 14+i*14, c, L+pw+24, 18+i*14, html.EscapeString(t.Name))
	}
	b.WriteString("</svg>")
}
