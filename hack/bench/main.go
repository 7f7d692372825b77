// Command bench measures Rampart on the real-world corpus: it scans the
// corpus at 1×, 10× and 100× (replicas generated in memory with renamed
// objects), and for each scale reports objects, wall time, objects per
// second, peak RSS, the time to merely decode the same input, and the ratio
// scan ÷ decode. Every measurement runs in a fresh child process (the
// program re-executes itself) so that peak RSS belongs to one scale and mode.
//
// Usage:
//
//	go run ./hack/bench [-corpus testdata/corpus] [-scales 1,10,100] [-reps 3]
//	                    [-cpuprofile cpu.out] [-memprofile mem.out]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rampart-dev/rampart/internal/bench"
	"github.com/rampart-dev/rampart/internal/cli"
)

// measurement is what one child run reports.
type measurement struct {
	Mode     string  `json:"mode"`
	Scale    int     `json:"scale"`
	Objects  int64   `json:"objects"`
	Files    int     `json:"files"`
	Findings int     `json:"findings"`
	Errors   int64   `json:"errors"`
	Controls int     `json:"controls"`
	Seconds  float64 `json:"seconds"`
	// RSSKiB is the child's peak resident set size, from its rusage.
	RSSKiB int64 `json:"rssKiB"`
	// CPUSeconds is the child's user plus system time, from its rusage; on a
	// busy machine it is steadier than wall time.
	CPUSeconds float64 `json:"cpuSeconds"`
}

func main() {
	corpus := flag.String("corpus", "testdata/corpus", "corpus directory")
	scales := flag.String("scales", "1,10,100", "comma-separated replication factors")
	reps := flag.Int("reps", 3, "runs per scale and mode; the fastest is reported")
	child := flag.String("child", "", "internal: run one measurement in this mode (scan|decode)")
	scale := flag.Int("scale", 1, "internal: replication factor of a child run")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of each scan to FILE.<scale>x")
	memprofile := flag.String("memprofile", "", "write a heap profile at the end of each scan to FILE.<scale>x")
	flag.Parse()

	if *child != "" {
		if err := runChild(*child, *corpus, *scale, *cpuprofile, *memprofile); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	var ss []int
	for _, f := range strings.Split(*scales, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: bad scale %q\n", f)
			os.Exit(2)
		}
		ss = append(ss, n)
	}
	if err := runParent(*corpus, ss, max(*reps, 1), *cpuprofile, *memprofile); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// runChild performs one measurement and prints it as JSON on stdout.
func runChild(mode, dir string, scale int, cpuprofile, memprofile string) error {
	cli.ApplyMemoryLimit() // as rampart itself runs
	c, err := bench.LoadCorpus(dir)
	if err != nil {
		return err
	}
	ctx := context.Background()
	m := measurement{Mode: mode, Scale: scale}
	switch mode {
	case "decode":
		start := time.Now()
		m.Objects, m.Errors = bench.Decode(ctx, c, scale, 0)
		m.Seconds = time.Since(start).Seconds()
		m.Files = len(c.Files) * scale
	case "scan":
		eng, err := bench.NewEngine()
		if err != nil {
			return err
		}
		if cpuprofile != "" {
			f, err := os.Create(fmt.Sprintf("%s.%dx", cpuprofile, scale))
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
		}
		start := time.Now()
		res, err := bench.Scan(ctx, eng, c, scale, io.Discard)
		m.Seconds = time.Since(start).Seconds()
		if cpuprofile != "" {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return err
		}
		if memprofile != "" {
			f, err := os.Create(fmt.Sprintf("%s.%dx", memprofile, scale))
			if err != nil {
				return err
			}
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				return err
			}
			f.Close()
		}
		m.Objects = int64(res.Summary.Objects)
		m.Files = res.Summary.Files
		m.Findings = res.Summary.Findings
		m.Errors = int64(res.Summary.Errors)
		m.Controls = res.Summary.Controls
		runtime.KeepAlive(res)
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	return json.NewEncoder(os.Stdout).Encode(m)
}

// measure runs one child and adds its peak RSS from the kernel's rusage.
func measure(mode, dir string, scale int, cpuprofile, memprofile string) (measurement, error) {
	self, err := os.Executable()
	if err != nil {
		return measurement{}, err
	}
	args := []string{"-child", mode, "-corpus", dir, "-scale", strconv.Itoa(scale)}
	if mode == "scan" {
		if cpuprofile != "" {
			args = append(args, "-cpuprofile", cpuprofile)
		}
		if memprofile != "" {
			args = append(args, "-memprofile", memprofile)
		}
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return measurement{}, fmt.Errorf("%s %dx: %w", mode, scale, err)
	}
	var m measurement
	if err := json.Unmarshal(out, &m); err != nil {
		return measurement{}, fmt.Errorf("%s %dx: bad child output %q: %w", mode, scale, out, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.RSSKiB = int64(ru.Maxrss) // KiB on Linux
		m.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return m, nil
}

// best runs reps measurements and keeps the fastest time and the highest RSS.
func best(mode, dir string, scale, reps int, cpuprofile, memprofile string) (measurement, error) {
	var b measurement
	for i := range reps {
		m, err := measure(mode, dir, scale, cpuprofile, memprofile)
		if err != nil {
			return b, err
		}
		if i == 0 {
			b = m
			continue
		}
		if m.Objects != b.Objects {
			return b, fmt.Errorf("%s %dx: object count changed between runs (%d, %d)", mode, scale, b.Objects, m.Objects)
		}
		b.Seconds = min(b.Seconds, m.Seconds)
		b.CPUSeconds = min(b.CPUSeconds, m.CPUSeconds)
		b.RSSKiB = max(b.RSSKiB, m.RSSKiB)
	}
	return b, nil
}

func runParent(dir string, scales []int, reps int, cpuprofile, memprofile string) error {
	c, err := bench.LoadCorpus(dir)
	if err != nil {
		return err
	}
	fmt.Printf("corpus %s: %d files, %.1f MiB; GOMAXPROCS=%d; %d run(s) per measurement, fastest shown\n\n",
		dir, len(c.Files), float64(c.Bytes)/(1<<20), runtime.GOMAXPROCS(0), reps)
	fmt.Printf("%-6s %9s %9s %8s %9s %12s %10s %9s %11s %12s\n",
		"scale", "objects", "findings", "scan", "scan CPU", "objects/s", "peak RSS", "decode", "decode RSS", "scan/decode")
	type row struct{ scan, dec measurement }
	rows := map[int]row{}
	for _, s := range scales {
		dec, err := best("decode", dir, s, reps, "", "")
		if err != nil {
			return err
		}
		scan, err := best("scan", dir, s, reps, cpuprofile, memprofile)
		if err != nil {
			return err
		}
		if scan.Objects != dec.Objects {
			return fmt.Errorf("%dx: scan saw %d objects, decode %d", s, scan.Objects, dec.Objects)
		}
		if scan.Errors > 0 || dec.Errors > 0 {
			return fmt.Errorf("%dx: %d input errors in the scan, %d in the decode", s, scan.Errors, dec.Errors)
		}
		rows[s] = row{scan, dec}
		fmt.Printf("%-6s %9d %9d %7.2fs %8.2fs %12.0f %6.0f MiB %8.2fs %7.0f MiB %12.2f\n",
			strconv.Itoa(s)+"x", scan.Objects, scan.Findings, scan.Seconds, scan.CPUSeconds, float64(scan.Objects)/scan.Seconds,
			float64(scan.RSSKiB)/1024, dec.Seconds, float64(dec.RSSKiB)/1024, scan.Seconds/dec.Seconds)
	}
	if len(rows) > 0 {
		fmt.Printf("\ncontrols: %d\n", rows[scales[0]].scan.Controls)
	}

	fmt.Println("\ntargets")
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	for _, s := range scales {
		r := rows[s]
		ratio := r.scan.Seconds / r.dec.Seconds
		fmt.Printf("  %4dx  scan ÷ decode = %.2f (target ≤ 1.5; CPU time ratio %.2f)  %s\n", s, ratio,
			r.scan.CPUSeconds/r.dec.CPUSeconds, verdict(ratio <= 1.5))
	}
	lo, hi := scales[0], scales[len(scales)-1]
	if hi > lo {
		factor := float64(hi) / float64(lo)
		growth := rows[hi].scan.Seconds / rows[lo].scan.Seconds
		fmt.Printf("  linear: %dx time ÷ %dx time = %.1f (target ≤ %.0f; per-object cost ratio %.2f)  %s\n",
			hi, lo, growth, factor, growth/factor, verdict(growth <= factor))
	}
	if r, ok := rows[100]; ok {
		mib := float64(r.scan.RSSKiB) / 1024
		fmt.Printf("  peak RSS at 100x = %.0f MiB (target < 300 MiB)  %s\n", mib, verdict(mib < 300))
	}
	return nil
}
