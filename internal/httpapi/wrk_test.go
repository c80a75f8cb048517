package httpapi_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// wrkScript walks a file of request lines ("METHOD path body"), one per
// request, so every request hits a distinct job.
const wrkScript = `
local lines = {}
for l in io.lines(os.getenv("SEGQ_WRK_REQUESTS")) do lines[#lines + 1] = l end
local i = 0
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ` + token + `"
request = function()
  i = i % #lines + 1
  local method, path, body = lines[i]:match("^(%S+) (%S+) (.*)$")
  return wrk.format(method, path, nil, body)
end
`

// BenchmarkWrk measures the API's capacity with wrk (Debian's package) as
// the load generator, outside the Go process, so the server gets the CPU
// the in-process load generator of the other benchmarks takes: 16
// connections, one request per distinct job, for enqueues and for
// callbacks. It reports wrk's requests/s and p99. Skipped without wrk.
func BenchmarkWrk(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed (apt-get install wrk)")
	}
	// More lines than 5 s of requests at the rates measured so far (about
	// 9k enqueues/s and 6k callbacks/s): a wrapped-around line would be a
	// duplicate and fail the run.
	const enqueues, callbacks = 150000, 60000
	b.Run("enqueue", func(b *testing.B) {
		bb := setupBench(b)
		lines := make([]string, enqueues)
		for i := range lines {
			lines[i] = fmt.Sprintf(`POST /v1/jobs {"workspace":"ws1","name":"wrk-%d","attribute_name":"gaid","attribute_type":"string","file_url":"https://files.example.com/a.csv","expiry_time":30}`, i)
		}
		runWrk(b, wrk, bb, lines, "jobs/s")
	})
	b.Run("callback", func(b *testing.B) {
		bb := setupBench(b)
		ids := bb.submittedJobs(b, callbacks)
		body := `{"db_name":"db","segment_name":"seg","request_id":"r1","status":201,"values_found":10,"values_processed":9,"user_count":8}`
		lines := make([]string, callbacks)
		for i, id := range ids {
			lines[i] = "POST " + strings.TrimPrefix(bb.signer.URL(id, 1), "http://segq.test") + " " + body
		}
		runWrk(b, wrk, bb, lines, "callbacks/s")
	})
}

var (
	wrkRate = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkP99  = regexp.MustCompile(`\s99%\s+([\d.]+)(us|ms|s)`)
	wrkErrs = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// runWrk runs wrk for 5 s (fewer requests than lines, so every request is
// a first: no duplicate names, no duplicate callbacks) and reports.
func runWrk(b *testing.B, wrk string, bb *benchBundle, lines []string, unit string) {
	dir := b.TempDir()
	reqs, script := filepath.Join(dir, "requests"), filepath.Join(dir, "script.lua")
	if err := os.WriteFile(reqs, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(wrkScript), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cmd := exec.Command(wrk, "-t1", "-c16", "-d5s", "--latency", "-s", script, bb.url)
	cmd.Env = append(os.Environ(), "SEGQ_WRK_REQUESTS="+reqs)
	out, err := cmd.CombinedOutput()
	b.StopTimer()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	if m := wrkErrs.FindSubmatch(out); m != nil {
		b.Fatalf("wrk saw %s error answers:\n%s", m[1], out)
	}
	rate, p99 := wrkRate.FindSubmatch(out), wrkP99.FindSubmatch(out)
	if rate == nil || p99 == nil {
		b.Fatalf("cannot read wrk's output:\n%s", out)
	}
	var r, p float64
	fmt.Sscan(string(rate[1]), &r)
	fmt.Sscan(string(p99[1]), &p)
	switch string(p99[2]) {
	case "us":
		p /= 1000
	case "s":
		p *= 1000
	}
	b.ReportMetric(r, unit)
	b.ReportMetric(p, "p99-ms")
}
