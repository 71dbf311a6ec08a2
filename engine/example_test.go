package engine_test

import (
	"context"
	"fmt"
	"image"
	"log"
	"slices"

	"github.com/vouchsafe/vouchsafe/engine"
	"github.com/vouchsafe/vouchsafe/psi"
)

// Decode each photo once and get its model hash and its visual derivative,
// in input order. (The model needs ONNX Runtime, or a build without cgo.)
func Example() {
	h, err := engine.NewHasher(engine.Options{Model: "default"})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	enc, err := psi.NewDerivativeEncoder()
	if err != nil {
		log.Fatal(err)
	}
	defer enc.Close()
	cfg := engine.Config{
		Outputs: engine.OutHash | engine.OutDerivative,
		Hasher:  h,
		Derive:  func(img image.Image) ([]byte, error) { return enc.Encode(img, 4000) },
	}
	photos := slices.Values([]engine.Input{
		{Path: "../testdata/photos/rocket.jpg"},
		{Path: "../testdata/photos/missing.jpg"},
	})
	st, err := engine.Run(context.Background(), cfg, photos, func(r engine.Record) error {
		if r.Err != nil {
			fmt.Println(r.Seq, "error")
			return nil
		}
		fmt.Println(r.Seq, r.Width, r.Height, len(r.Derivative) > 0)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Images, "images,", st.Decoded, "decoded")
	// Output:
	// 0 640 427 true
	// 1 error
	// 2 images, 1 decoded
}
