package ort

import (
	"fmt"
	"os"
)

// TelemetryEnv is the environment variable that keeps ONNX Runtime's telemetry
// client from starting. The Linux builds on npm (onnxruntime-node 1.29.0, which
// `make ort` and `vouchsafe setup` fetch) carry Microsoft's 1DS/OneCollector
// client: unless this variable is "1" when the library creates its environment,
// it resolves and posts to mobile.events.data.microsoft.com, leaves
// /tmp/mat-debug-PID.log behind and keeps a device ID and event queue in
// ~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db.
const TelemetryEnv = "ORT_DISABLE_TELEMETRY"

// disableTelemetry sets TelemetryEnv for this process (and so for the library,
// which reads it when Init creates the environment). It is set whatever the
// user's environment says: nothing leaves the machine that the user did not ask
// to send. OrtApi's DisableTelemetryEvents, which Init also calls, comes too
// late on its own: by then the client has started, written its files and
// queued the process-start event it sends.
func disableTelemetry() error {
	if err := os.Setenv(TelemetryEnv, "1"); err != nil {
		return fmt.Errorf("disabling ONNX Runtime telemetry: %w", err)
	}
	return nil
}
