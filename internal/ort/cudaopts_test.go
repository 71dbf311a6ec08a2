package ort

import (
	"reflect"
	"testing"
)

func TestCUDAProviderOptions(t *testing.T) {
	got, err := cudaProviderOptions(" cudnn_conv_algo_search=HEURISTIC, prefer_nhwc=1 ,")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cudnn_conv_algo_search": "HEURISTIC", "prefer_nhwc": "1"}
	for k, v := range defaultCUDAOptions {
		if _, ok := want[k]; !ok {
			want[k] = v
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"x", "=1", "k=", "device_id=1"} {
		if _, err := cudaProviderOptions(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
