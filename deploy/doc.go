// Package deploy holds segq's deployment files (Dockerfile, compose,
// Redis and Prometheus configuration, Kubernetes manifests, Grafana
// provisioning) and the test that parses them and checks their cross
// references against the code. It has no Go API.
package deploy
