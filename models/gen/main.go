// Command gen writes the generated model files of package models into the
// current directory (or -dir). Run it with `go generate ./models`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vouchsafe/vouchsafe/internal/modelgen"
)

func main() {
	dir := flag.String("dir", ".", "output `directory`")
	flag.Parse()
	files, err := modelgen.Files()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(*dir, f.Name), f.Data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
