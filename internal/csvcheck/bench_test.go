package csvcheck

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchFileBytes is the size of the generated benchmark file: the upstream
// limit, 150 MB.
const benchFileBytes = DefaultMaxBytes

// writeGAIDs writes distinct lowercase UUID-shaped ids, one per line, until
// the file is as large as it can be without passing size. It returns the
// number of ids.
func writeGAIDs(tb testing.TB, path string, size int64) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	var raw [16]byte
	var line [37]byte
	n := int64(0)
	for ; (n+1)*37 <= size; n++ {
		for i := 0; i < 16; i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				raw[i+j] = byte(v >> (8 * j))
			}
		}
		raw[6] = raw[6]&0x0f | 0x40 // version 4
		raw[8] = raw[8]&0x3f | 0x80 // RFC 4122 variant
		hex.Encode(line[0:8], raw[0:4])
		line[8] = '-'
		hex.Encode(line[9:13], raw[4:6])
		line[13] = '-'
		hex.Encode(line[14:18], raw[6:8])
		line[18] = '-'
		hex.Encode(line[19:23], raw[8:10])
		line[23] = '-'
		hex.Encode(line[24:36], raw[10:16])
		line[36] = '\n'
		_, _ = w.Write(line[:])
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return n
}

// BenchmarkCheck150MB checks a generated 150 MB file of GAIDs, reading it
// from the (warm) page cache like the tools it is compared with. Beside
// MB/s it reports, from the same run and the same file: wc -l and
// sort -u | wc -l in MB/s, SHA-256 alone in MB/s, the ratio of Check's
// time to wc -l's, and the process's peak RSS (VmHWM).
func BenchmarkCheck150MB(b *testing.B) {
	path := filepath.Join(b.TempDir(), "gaids.csv")
	ids := writeGAIDs(b, path, benchFileBytes)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	size := st.Size()
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		res := checkFile(b, path)
		if !res.Valid || res.ValuesValid != ids {
			b.Fatalf("valid %v, %d values, want %d: %+v", res.Valid, res.ValuesValid, ids, res.Problems)
		}
	}
	b.StopTimer()
	perOp := b.Elapsed().Seconds() / float64(b.N)
	reportTools(b, path, size, ids, perOp)
	b.ReportMetric(peakRSSMB(b), "peak-RSS-MB")
}

func checkFile(tb testing.TB, path string) Result {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	res, err := Check(f, Options{AttributeName: "gaid"})
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// BenchmarkCheckGAIDs16MB checks 16 MB of GAIDs from memory: the checker
// alone, without the page cache and with a warm hash set.
func BenchmarkCheckGAIDs16MB(b *testing.B) {
	path := filepath.Join(b.TempDir(), "gaids.csv")
	ids := writeGAIDs(b, path, 16e6)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		res, err := Check(bytes.NewReader(data), Options{})
		if err != nil || res.ValuesValid != ids {
			b.Fatal(err, res.ValuesValid)
		}
	}
}

// reportTools times wc -l, sort -u | wc -l and SHA-256 alone on the file.
func reportTools(b *testing.B, path string, size, ids int64, checkSec float64) {
	mb := float64(size) / 1e6
	wcSec, out := bestOf(b, 5, "wc -l < "+path)
	if n, _ := strconv.ParseInt(out, 10, 64); n != ids {
		b.Fatalf("wc -l says %q, want %d", out, ids)
	}
	b.ReportMetric(mb/wcSec, "wc-l-MB/s")
	b.ReportMetric(checkSec/wcSec, "x-wc-l")
	sortSec, out := bestOf(b, 1, "LC_ALL=C sort -u "+path+" | wc -l")
	if n, _ := strconv.ParseInt(out, 10, 64); n != ids {
		b.Fatalf("sort -u | wc -l says %q, want %d", out, ids)
	}
	b.ReportMetric(mb/sortSec, "sort-u-MB/s")
	b.ReportMetric(mb/shaSeconds(b, path), "sha256-MB/s")
}

// bestOf runs a shell pipeline n times and returns its fastest wall time
// and its trimmed output.
func bestOf(b *testing.B, n int, script string) (float64, string) {
	best, out := 0.0, ""
	for range n {
		start := time.Now()
		o, err := exec.Command("sh", "-c", script).Output()
		sec := time.Since(start).Seconds()
		if err != nil {
			b.Fatalf("%s: %v", script, err)
		}
		if best == 0 || sec < best {
			best = sec
		}
		out = strings.TrimSpace(string(o))
	}
	return best, out
}

// shaSeconds is the time SHA-256 alone takes over the file (best of 3).
func shaSeconds(b *testing.B, path string) float64 {
	best := 0.0
	for range 3 {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		h := sha256.New()
		if _, err := io.CopyBuffer(h, f, make([]byte, chunkSize)); err != nil {
			b.Fatal(err)
		}
		sec := time.Since(start).Seconds()
		f.Close()
		if best == 0 || sec < best {
			best = sec
		}
	}
	return best
}

// peakRSSMB reads the process's peak resident set size from /proc.
func peakRSSMB(b *testing.B) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(string(rest)), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
