package topology_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/testredis"
	"github.com/stretchr/testify/require"
)

// requireRedisBinaries skips the test unless a real-Redis run was asked
// for (SEGQ_TEST_REDIS_URL, as `make test` sets) and redis-server and
// redis-cli are installed.
func requireRedisBinaries(t *testing.T) {
	t.Helper()
	if os.Getenv(testredis.EnvURL) == "" {
		t.Skip(testredis.EnvURL + " is not set: run `make test` for the real-Redis topology tests")
	}
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skip(bin + " is not installed")
		}
	}
}

// freePort returns a loopback port that is free, and whose cluster bus
// port (port+10000) is free too.
func freePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		if err != nil {
			continue
		}
		_ = bus.Close()
		return port
	}
	t.Fatal("no free port pair")
	return 0
}

// startRedis runs redis-server in the foreground with args until the test
// ends, and waits until it answers PING.
func startRedis(t *testing.T, dir string, port int, args ...string) {
	t.Helper()
	all := append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, fmt.Sprintf("redis-%d.log", port))}, args...)
	runRedis(t, port, all...)
}

// runRedis starts redis-server with exactly args, stops it when the test
// ends, and waits until port answers PING.
func runRedis(t *testing.T, port int, args ...string) {
	t.Helper()
	cmd := exec.Command("redis-server", args...)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: addr(port), MaxRetries: -1})
	defer c.Close()
	require.Eventually(t, func() bool { return c.Ping(context.Background()).Err() == nil },
		10*time.Second, 20*time.Millisecond, "redis-server on %d did not start", port)
}

func addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// startCluster starts n masters with cluster mode on, joins them with
// redis-cli --cluster create, and waits until every node reports the
// cluster ok. It returns the nodes' addresses.
func startCluster(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var addrs []string
	for range n {
		port := freePort(t)
		startRedis(t, dir, port, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
			"--cluster-node-timeout", "2000")
		addrs = append(addrs, addr(port))
	}
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command("redis-cli", args...).CombinedOutput()
	require.NoError(t, err, "redis-cli --cluster create: %s", out)
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		require.Eventually(t, func() bool {
			info, err := c.ClusterInfo(context.Background()).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		}, 20*time.Second, 50*time.Millisecond, "cluster node %s never ok", a)
		_ = c.Close()
	}
	return addrs
}

// sentinelGroup is a primary, one replica and three sentinels.
type sentinelGroup struct {
	primary, replica int
	sentinels        []int
}

const masterName = "mymaster"

// startSentinelGroup starts a primary, a replica of it, and three
// sentinels that monitor them with a quorum of 2, and waits until the
// sentinels know the replica (a failover needs one).
func startSentinelGroup(t *testing.T) sentinelGroup {
	t.Helper()
	dir := t.TempDir()
	g := sentinelGroup{primary: freePort(t), replica: freePort(t)}
	// min-replicas-to-write makes the old primary refuse writes the moment
	// its replica is promoted, instead of accepting writes a failover
	// would drop (deploy/redis.conf explains the production setting).
	startRedis(t, dir, g.primary, "--min-replicas-to-write", "1", "--min-replicas-max-lag", "10")
	startRedis(t, dir, g.replica, "--replicaof", "127.0.0.1", fmt.Sprint(g.primary))
	rc := redis.NewClient(&redis.Options{Addr: addr(g.replica)})
	defer rc.Close()
	require.Eventually(t, func() bool {
		info, err := rc.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}, 10*time.Second, 20*time.Millisecond, "replica never synced")
	for range 3 {
		port := freePort(t)
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", port))
		writeLines(t, conf,
			fmt.Sprintf("port %d", port), "bind 127.0.0.1", "dir "+dir,
			fmt.Sprintf("logfile %s", filepath.Join(dir, fmt.Sprintf("sentinel-%d.log", port))),
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", masterName, g.primary),
			"sentinel down-after-milliseconds "+masterName+" 1000",
			"sentinel failover-timeout "+masterName+" 5000",
			"sentinel parallel-syncs "+masterName+" 1")
		runRedis(t, port, conf, "--sentinel")
		g.sentinels = append(g.sentinels, port)
	}
	for _, p := range g.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr(p)})
		require.Eventually(t, func() bool {
			rs, err := sc.Replicas(context.Background(), masterName).Result()
			return err == nil && len(rs) == 1 && !strings.Contains(rs[0]["flags"], "down")
		}, 20*time.Second, 50*time.Millisecond, "sentinel %d never saw the replica", p)
		_ = sc.Close()
	}
	return g
}

func (g sentinelGroup) addrs() []string {
	out := make([]string, len(g.sentinels))
	for i, p := range g.sentinels {
		out[i] = addr(p)
	}
	return out
}

// failover asks a sentinel to promote the replica and waits until every
// sentinel names it as the primary.
func (g sentinelGroup) failover(t *testing.T) {
	t.Helper()
	out, err := exec.Command("redis-cli", "-p", fmt.Sprint(g.sentinels[0]), "SENTINEL", "failover", masterName).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "OK", strings.TrimSpace(string(out)))
	for _, p := range g.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr(p)})
		require.Eventually(t, func() bool {
			a, err := sc.GetMasterAddrByName(context.Background(), masterName).Result()
			return err == nil && len(a) == 2 && a[1] == fmt.Sprint(g.replica)
		}, 30*time.Second, 50*time.Millisecond, "sentinel %d never switched to the replica", p)
		_ = sc.Close()
	}
}

func writeLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	for _, l := range lines {
		_, _ = w.WriteString(l + "\n")
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}
