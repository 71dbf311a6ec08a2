package pdq_test

import (
	"fmt"
	"image"
	"image/draw"
	"log"
	"os"

	"github.com/vouchsafe/vouchsafe/pdq"
)

// Hash a photo, then compare it with a copy of itself in a thin black frame
// (a near-duplicate, within MatchThreshold bits) and with another photo.
func Example() {
	data, err := os.ReadFile("../testdata/photos/astronaut.png")
	if err != nil {
		log.Fatal(err)
	}
	img, err := pdq.Decode(data)
	if err != nil {
		log.Fatal(err)
	}
	var h pdq.Hasher // reusable; one per goroutine
	hash, quality, err := h.Hash(img)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hash, quality)

	b := img.Bounds()
	framed := image.NewRGBA(image.Rect(0, 0, b.Dx()+4, b.Dy()+4))
	draw.Draw(framed, b.Sub(b.Min).Add(image.Pt(2, 2)), img, b.Min, draw.Src)
	other, _, err := h.Hash(framed)
	if err != nil {
		log.Fatal(err)
	}
	d := pdq.Distance(hash, other)
	fmt.Println("framed: distance", d, "match:", d <= pdq.MatchThreshold)

	data, err = os.ReadFile("../testdata/photos/coffee.png")
	if err != nil {
		log.Fatal(err)
	}
	// HashBytes decodes as Decode does.
	if other, _, err = h.HashBytes(data); err != nil {
		log.Fatal(err)
	}
	d = pdq.Distance(hash, other)
	fmt.Println("coffee: distance", d, "match:", d <= pdq.MatchThreshold)
	// Output:
	// 2d6b1af3a956c529e79ca3d2526fa834d4196c81cedd04de0a26b855fc99b724 100
	// framed: distance 10 match: true
	// coffee: distance 132 match: false
}
