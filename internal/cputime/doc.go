// Package cputime reads the process's CPU time, which benchmarks report
// beside wall time: on a loaded machine it counts the work done, where wall
// time also counts waiting for a core.
package cputime
