package engine

import (
	"fmt"

	"github.com/vouchsafe/vouchsafe/internal/modelgen"
	"github.com/vouchsafe/vouchsafe/internal/ort"
)

// session runs a model: ONNX Runtime, or pure Go for the default model in a
// build without cgo.
type session interface {
	Input() ort.TensorInfo
	Output() ort.TensorInfo
	Device() ort.Device
	Run(input []float32, inShape []int64, output []float32, outShape []int64) error
	Close() error
}

// DeviceGo is the device of the pure-Go default model, used where ONNX Runtime
// cannot be (a build without cgo).
const DeviceGo ort.Device = "go"

// goDefault evaluates the default model with its Go reference implementation
// (internal/modelgen), which a test keeps equal to the ONNX graph.
type goDefault struct{}

func (goDefault) Input() ort.TensorInfo {
	return ort.TensorInfo{Name: "image", Dims: []int64{-1, 3, InputSize, InputSize}}
}
func (goDefault) Output() ort.TensorInfo {
	return ort.TensorInfo{Name: "embedding", Dims: []int64{-1, EmbeddingSize}}
}
func (goDefault) Device() ort.Device { return DeviceGo }
func (goDefault) Close() error       { return nil }

func (goDefault) Run(input []float32, inShape []int64, output []float32, outShape []int64) error {
	n := int(inShape[0])
	for i := range n {
		e := modelgen.DefaultEmbedding(input[i*imageFloats : (i+1)*imageFloats])
		if len(e) != EmbeddingSize {
			return fmt.Errorf("pure-Go default model: bad input")
		}
		copy(output[i*EmbeddingSize:], e)
	}
	return nil
}
