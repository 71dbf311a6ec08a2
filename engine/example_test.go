package engine_test

import (
	"context"
	"fmt"
	"image"
	"log"
	"slices"

	"github.com/vouchsafe/vouchsafe/derivative"
	"github.com/vouchsafe/vouchsafe/engine"
)

// Decode each photo once and get its PDQ hash and its visual derivative, in
// input order. A file that cannot be read or decoded gets a record with Err
// set, and the run goes on.
func Example() {
	enc, err := derivative.NewEncoder()
	if err != nil {
		log.Fatal(err)
	}
	defer enc.Close()
	cfg := engine.Config{
		Outputs: engine.OutPDQ | engine.OutDerivative,
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
		fmt.Println(r.Seq, r.Width, r.Height, r.PDQ.String()[:16], len(r.Derivative) > 0)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Images, "images,", st.Decoded, "decoded")
	// Output:
	// 0 640 427 8792786c87937064 true
	// 1 error
	// 2 images, 1 decoded
}

// The model's hash and the visual derivative from one decode: what
// `vouchsafe voucher` does with each photo. (It needs ONNX Runtime, or a
// build without cgo, so it is not run as a test.)
func Example_hashAndDerivative() {
	h, err := engine.NewHasher(engine.Options{Model: "default"})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	enc, err := derivative.NewEncoder()
	if err != nil {
		log.Fatal(err)
	}
	defer enc.Close()
	cfg := engine.Config{
		Outputs: engine.OutHash | engine.OutDerivative,
		Hasher:  h,
		Derive:  func(img image.Image) ([]byte, error) { return enc.Encode(img, 4000) },
	}
	photos := slices.Values([]engine.Input{{Path: "photo.jpg"}})
	_, err = engine.Run(context.Background(), cfg, photos, func(r engine.Record) error {
		fmt.Println(r.Path, r.Hash, len(r.Derivative), r.Err)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}
