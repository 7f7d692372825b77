// Package json writes the Result as Rampart's stable JSON report
// (schema/report.schema.json).
package json

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/rampart-dev/rampart/internal/report"
)

// Writer writes the JSON report.
type Writer struct{}

var _ report.Writer = Writer{}

// findingsMarker is where the findings array sits in the indented encoding
// of a Result whose findings are empty. Quotes inside JSON strings are
// escaped, so only the top-level key can match.
var findingsMarker = []byte("\n  \"findings\": []")

// Write renders r as indented JSON. Absent lists and maps are written as
// empty ones, never null, as the schema requires. The output is exactly that
// of encoding/json with two-space indentation, but findings are encoded one
// at a time so that memory does not grow with the size of the report.
func (Writer) Write(w io.Writer, r *report.Result, _ report.Options) error {
	head := normalize(r)
	head.Findings = []report.Finding{}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(head); err != nil {
		return err
	}
	doc := buf.Bytes()
	i := bytes.Index(doc, findingsMarker)
	if i < 0 {
		return fmt.Errorf("json report: findings key not found")
	}
	cut := i + len(findingsMarker) - 1 // just before the closing ']'
	if len(r.Findings) == 0 {
		_, err := w.Write(doc)
		return err
	}
	if _, err := w.Write(doc[:cut]); err != nil {
		return err
	}
	if err := writeFindings(w, r.Findings); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\n  "); err != nil {
		return err
	}
	_, err := w.Write(doc[cut:])
	return err
}

// chunkSize is the number of findings one worker encodes at a time.
const chunkSize = 256

// encodedChunk is the encoding of findings[start:end], ready when done is
// closed.
type encodedChunk struct {
	start, end int
	buf        []byte
	done       chan struct{}
}

// writeFindings writes the findings array's items, each preceded by its
// separator and indentation. Chunks of findings are encoded in parallel and
// written in order; at most two chunks per worker are in memory at once.
func writeFindings(w io.Writer, fs []report.Finding) error {
	workers := min(runtime.GOMAXPROCS(0), (len(fs)+chunkSize-1)/chunkSize)
	if workers <= 1 {
		c := &encodedChunk{end: len(fs)}
		encodeChunk(newFindingEncoder(), fs, c)
		_, err := w.Write(c.buf)
		return err
	}
	jobs := make(chan *encodedChunk)
	ordered := make(chan *encodedChunk, 2*workers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc := newFindingEncoder()
			for c := range jobs {
				encodeChunk(enc, fs, c)
				close(c.done)
			}
		}()
	}
	go func() {
		defer close(ordered)
		defer close(jobs)
		for start := 0; start < len(fs); start += chunkSize {
			c := &encodedChunk{start: start, end: min(start+chunkSize, len(fs)), done: make(chan struct{})}
			select {
			case ordered <- c:
			case <-stop:
				return
			}
			select {
			case jobs <- c:
			case <-stop:
				return
			}
		}
	}()
	var err error
	for c := range ordered {
		if err != nil {
			continue
		}
		select {
		case <-c.done:
		case <-stop:
		}
		if _, err = w.Write(c.buf); err != nil {
			close(stop)
		}
	}
	wg.Wait()
	return err
}

// encodeChunk encodes findings[c.start:c.end] into c.buf with the report's
// indentation.
func encodeChunk(enc *findingEncoder, fs []report.Finding, c *encodedChunk) {
	b := c.buf[:0]
	for n := c.start; n < c.end; n++ {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		b = enc.appendFinding(b, &fs[n])
	}
	c.buf = b
}

// normalize returns a shallow copy of r with nil slices and maps made empty.
func normalize(r *report.Result) *report.Result {
	c := *r
	if c.Findings == nil {
		c.Findings = []report.Finding{}
	}
	if c.Errors == nil {
		c.Errors = []report.InputError{}
	}
	if c.Controls == nil {
		c.Controls = []report.ControlResult{}
	}
	if c.Summary.ByStatus == nil {
		c.Summary.ByStatus = map[string]int{}
	}
	if c.Summary.BySeverity == nil {
		c.Summary.BySeverity = map[string]int{}
	}
	c.Frameworks = make([]report.FrameworkScore, len(r.Frameworks))
	for i, f := range r.Frameworks {
		if f.Items == nil {
			f.Items = []report.FrameworkItem{}
		}
		items := make([]report.FrameworkItem, len(f.Items))
		for j, it := range f.Items {
			if it.Controls == nil {
				it.Controls = []string{}
			}
			items[j] = it
		}
		f.Items = items
		c.Frameworks[i] = f
	}
	return &c
}
