// Package bench replicates the real-world manifest corpus in memory and runs
// it through the same decode and scan pipeline as `rampart scan`. It backs
// `make bench` (hack/bench) and the Go benchmarks of the engine.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/control/framework"
	"github.com/rampart-dev/rampart/internal/control/library"
	"github.com/rampart-dev/rampart/internal/engine"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
	"github.com/rampart-dev/rampart/internal/report"
	reportjson "github.com/rampart-dev/rampart/internal/report/json"
)

// File is one corpus file held in memory.
type File struct {
	// Name is the path the file was read from.
	Name string
	// Data is the file's content.
	Data []byte
}

// Corpus is a set of manifest files read once into memory.
type Corpus struct {
	// Files are the corpus files in walk order.
	Files []File
	// Bytes is the total size of Files.
	Bytes int64
}

// LoadCorpus reads every manifest file under dir the way `rampart scan dir`
// finds them (no Helm or Kustomize rendering). Any input error fails the
// load: a benchmark over a corpus with unreadable files would measure less
// than it claims.
func LoadCorpus(dir string) (*Corpus, error) {
	c := &Corpus{}
	var errs []string
	load.Walk(context.Background(), []string{dir}, load.Options{Limits: load.DefaultLimits}, func(u load.Unit) {
		data, ierr := load.ReadUnit(u, load.DefaultLimits)
		if ierr != nil {
			errs = append(errs, ierr.Error())
			return
		}
		c.Files = append(c.Files, File{Name: u.File, Data: data})
		c.Bytes += int64(len(data))
	}, func(e load.InputError) { errs = append(errs, e.Error()) })
	if len(errs) > 0 {
		return nil, fmt.Errorf("corpus %s: %s", dir, strings.Join(errs, "; "))
	}
	if len(c.Files) == 0 {
		return nil, fmt.Errorf("corpus %s: no manifest files", dir)
	}
	return c, nil
}

var (
	yamlName = []byte("\n  name: ")
	jsonName = []byte(`"name": "`)
)

// Replica returns the content of f for replica k: replica 0 is the file
// unchanged; replica k > 0 prefixes every top-level metadata.name ("\n  name: "
// in YAML, every "name" string in JSON) with "r<k>-" so that replicas are
// distinct objects.
func Replica(f File, k int) []byte {
	if k == 0 {
		return f.Data
	}
	prefix := "r" + strconv.Itoa(k) + "-"
	if strings.EqualFold(filepath.Ext(f.Name), ".json") {
		return bytes.ReplaceAll(f.Data, jsonName, append(append([]byte{}, jsonName...), prefix...))
	}
	return bytes.ReplaceAll(f.Data, yamlName, append(append([]byte{}, yamlName...), prefix...))
}

// ReplicaName is the file name replica k of name is reported under.
func ReplicaName(name string, k int) string {
	if k == 0 {
		return name
	}
	return "r" + strconv.Itoa(k) + "/" + name
}

// Produce returns a unit producer for engine.ScanUnits that emits the corpus
// scale times, generating each replica's bytes only when it is emitted so
// that memory does not grow with scale.
func (c *Corpus) Produce(scale int) func(emit func(load.Unit), onErr func(load.InputError)) {
	return func(emit func(load.Unit), _ func(load.InputError)) {
		for k := range scale {
			for _, f := range c.Files {
				emit(load.Unit{File: ReplicaName(f.Name, k), Data: Replica(f, k)})
			}
		}
	}
}

// NewEngine returns an engine running every built-in control and scoring
// every framework, as `rampart scan` does with no selection flags.
func NewEngine(opts ...engine.Option) (*engine.Engine, error) {
	reg, err := library.NewRegistry()
	if err != nil {
		return nil, err
	}
	fws, err := framework.Load()
	if err != nil {
		return nil, err
	}
	opts = append([]engine.Option{engine.WithSettings(&control.Settings{}), engine.WithFrameworks(fws.All())}, opts...)
	return engine.New(reg.All(), opts...), nil
}

// Scan scans the corpus replicated scale times through eng and writes the
// JSON report to w, as `rampart scan -o json` does.
func Scan(ctx context.Context, eng *engine.Engine, c *Corpus, scale int, w io.Writer) (*report.Result, error) {
	res := eng.ScanUnits(ctx, load.DefaultLimits, c.Produce(scale))
	engine.FilterSeverity(res, control.SeverityInfo)
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := (reportjson.Writer{}).Write(bw, res, report.Options{}); err != nil {
		return nil, err
	}
	return res, bw.Flush()
}

// Decode decodes the corpus replicated scale times with the same unit
// producer, worker count and load.Decode as a scan, but evaluates no
// controls. It returns the number of objects decoded and of input errors.
func Decode(ctx context.Context, c *Corpus, scale, workers int) (objects, errs int64) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var nObj, nErr atomic.Int64
	units := make(chan load.Unit, 64)
	go func() {
		defer close(units)
		c.Produce(scale)(func(u load.Unit) {
			select {
			case units <- u:
			case <-ctx.Done():
			}
		}, func(load.InputError) { nErr.Add(1) })
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			count := func(*k8s.Object) { nObj.Add(1) }
			for u := range units {
				data, ierr := load.ReadUnit(u, load.DefaultLimits)
				if ierr != nil {
					nErr.Add(1)
					continue
				}
				nErr.Add(int64(len(load.Decode(u, data, load.DefaultLimits, count))))
			}
		}()
	}
	wg.Wait()
	return nObj.Load(), nErr.Load()
}
