package imgproc

import "encoding/binary"

// jpegSegments calls f with each marker segment of a JPEG before its first
// scan, until f returns false or the data is malformed.
func jpegSegments(b []byte, f func(marker byte, seg []byte) bool) {
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 {
		return
	}
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xff {
			return
		}
		marker := b[i+1]
		if marker == 0xff { // fill byte
			i++
			continue
		}
		if marker == 0xda || marker == 0xd9 { // start of scan, end of image
			return
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return
		}
		if !f(marker, b[i+4:i+2+n]) {
			return
		}
		i += 2 + n
	}
}

// jpegOrientation returns the EXIF orientation (1 to 8) stored in a JPEG's
// APP1 segment, or 1 when there is none or it is malformed.
func jpegOrientation(b []byte) int {
	o := 1
	jpegSegments(b, func(marker byte, seg []byte) bool {
		if marker == 0xe1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			o = exifOrientation(seg[6:])
			return false
		}
		return true
	})
	return o
}

// exifOrientation reads tag 0x0112 of IFD0 of a TIFF-structured EXIF blob.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1
	}
	off := int64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > int64(len(t)) {
		return 1
	}
	n := int(bo.Uint16(t[off:]))
	p := int(off) + 2
	for e := 0; e < n && p+12 <= len(t); e, p = e+1, p+12 {
		if bo.Uint16(t[p:]) != 0x0112 {
			continue
		}
		typ, count := bo.Uint16(t[p+2:]), bo.Uint32(t[p+4:])
		if typ != 3 || count != 1 { // SHORT
			return 1
		}
		v := int(bo.Uint16(t[p+8:]))
		if v < 1 || v > 8 {
			return 1
		}
		return v
	}
	return 1
}

// orient writes src transformed by EXIF orientation o into dst, as Pillow's
// ImageOps.exif_transpose: 2 mirror, 3 rotate 180°, 4 flip, 5 transpose,
// 6 rotate 90° clockwise, 7 transverse, 8 rotate 90° counter-clockwise.
func orient(dst, src *RGB, o int) {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst.reshape(dw, dh)
	for y := 0; y < h; y++ {
		row := src.row(y)
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2:
				dx, dy = w-1-x, y
			case 3:
				dx, dy = w-1-x, h-1-y
			case 4:
				dx, dy = x, h-1-y
			case 5:
				dx, dy = y, x
			case 6:
				dx, dy = h-1-y, x
			case 7:
				dx, dy = h-1-y, w-1-x
			case 8:
				dx, dy = y, w-1-x
			default:
				dx, dy = x, y
			}
			i := dy*dst.Stride + 3*dx
			copy(dst.Pix[i:i+3], row[3*x:3*x+3])
		}
	}
}
