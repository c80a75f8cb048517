// Package e2e holds segq's end-to-end tests: the real system — API,
// callback endpoint, worker replicas, limiter — on a real redis-server, with
// the MoEngage simulator over real HTTP and windows scaled down so that
// hours pass in seconds. The package has no non-test code.
package e2e
