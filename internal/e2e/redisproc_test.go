package e2e_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisProc is a redis-server process of the test's own, with AOF fsynced
// on every write, that the test may kill and restart.
type redisProc struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	args []string
	cmd  *exec.Cmd
}

// startRedis starts redis-server on a free loopback port with its data in
// a temporary directory; extra are more server arguments. The test is
// skipped when redis-server is not installed.
func startRedis(t *testing.T, extra ...string) *redisProc {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not on PATH: install it (make redis) to run the Redis fault tests")
	}
	r := &redisProc{t: t, bin: bin, dir: t.TempDir(), port: freePort(t)}
	r.args = append([]string{"--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction",
		"--logfile", filepath.Join(r.dir, "redis.log")}, extra...)
	r.start()
	t.Cleanup(r.kill)
	return r
}

// URL is the URL of database 0 of the server.
func (r *redisProc) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisProc) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, r.args...)
	require.NoError(r.t, r.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port), MaxRetries: -1})
	defer c.Close()
	require.Eventually(r.t, func() bool { return c.Ping(context.Background()).Err() == nil },
		10*time.Second, 20*time.Millisecond, "redis-server on port %d never answered", r.port)
}

// kill stops the server with SIGKILL: no shutdown save, only what AOF
// already has on disk survives.
func (r *redisProc) kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// restart kills the server and starts it again on the same port and data.
func (r *redisProc) restart() {
	r.t.Helper()
	r.kill()
	r.start()
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
