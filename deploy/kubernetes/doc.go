// Package kubernetes holds the Kubernetes manifests of a deployment at
// scale (hash-job.yaml: sharded hashing as an Indexed Job; reconstructor.yaml:
// the service on PostgreSQL) and the test that decodes them with the
// Kubernetes API types. See README.md, "Running at scale".
package kubernetes

import "embed"

// Manifests are the YAML files of this folder.
//
//go:embed *.yaml
var Manifests embed.FS
