// Package topology holds segq's tests on real Redis topologies: a
// 3-master Redis Cluster and a Sentinel group with a failover, started on
// loopback by the tests themselves, plus the many-workspaces isolation
// test. It has no non-test code.
package topology
