// Package testsystem runs a whole segq (simulator, file host, API with
// callbacks and worker replicas) for end-to-end tests and benchmarks.
//
// Test support only; imported by test packages.
package testsystem
