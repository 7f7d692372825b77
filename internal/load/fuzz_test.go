package load

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// fuzzLimits are smaller than DefaultLimits so that the fuzzer reaches them.
var fuzzLimits = Limits{MaxFileSize: 256 << 10, MaxDepth: 64, MaxAliasNodes: 2000}

// seedInputs are hand-written hostile and edge-case inputs shared by the fuzz
// targets; the committed corpora under testdata/fuzz add what fuzzing found.
var seedInputs = []string{
	"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: c\n    image: nginx\n",
	"\ufeffapiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bom\n",
	"{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Pod\",\n\t\"metadata\": {\"name\": \"tabs\"}\n}\n",
	"[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}},{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"b\"}}]",
	"---\n---\n...\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n--- \n---\t\n",
	"--- apiVersion: v1\n",
	"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n- 7\n- apiVersion: v1\n  kind: List\n  items: [{apiVersion: v1, kind: Pod, metadata: {name: nested}}]\n",
	"apiVersion: v1\nkind: PodList\nitems: {}\n",
	"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
	"apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: self, labels: *m}\n",
	"apiVersion: v1\nkind: Pod\nmetadata:\n  name: m\n  labels: &l {app: x}\n  annotations:\n    <<: [*l, *l]\n",
	"apiVersion: v1\nkind: Pod\nmetadata: {name: deep}\nspec: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n",
	strings.Repeat("[", 20000),
	strings.Repeat("{\"a\":", 200) + "1" + strings.Repeat("}", 200),
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata:\n  k: " + strings.Repeat("x", 100000) + "\n",
	"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: !!binary aGVsbG8=\nstringData: {a: !!binary /w==}\n",
	"apiVersion: 1\nkind: [Pod]\nmetadata: 3\n",
	"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {x: .nan, y: -.inf, z: 0x1F, w: 1_000, t: 2024-01-01, o: 0o17}\n",
	"? [a, b]\n: c\napiVersion: v1\nkind: Pod\nmetadata: {name: complexkey}\n",
	"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   bad: [\n",
	"\x00\x01\x02binary",
	"\xff\xfe\x00a\x00p\x00i",
	"key: \"unterminated\n",
	"%YAML 1.1\n%TAG ! tag:example.com,2000:\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: directive}\n",
	"apiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: crlf\r\n",
}

// checkDecode runs Decode on data and checks the invariants every input must
// satisfy: no panic, work bounded by the input and the alias budget, every
// error naming the file with a one-line message and a plausible line, every
// object carrying its file, a plausible line and JSON-compatible content.
func checkDecode(t *testing.T, file string, data []byte, lim Limits) (objects int, errs []InputError) {
	t.Helper()
	u := Unit{File: file, Data: data}
	lines := yamlLines(data)
	nodes := 0
	var bad []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		errs = Decode(u, data, lim, func(o *k8s.Object) {
			objects++
			if o.Source.File != file {
				bad = append(bad, "object source file "+o.Source.File)
			}
			if o.Source.Line < 1 || o.Source.Line > lines {
				bad = append(bad, "object line out of range")
			}
			if o.APIVersion() == "" || o.Kind() == "" {
				bad = append(bad, "object without apiVersion or kind")
			}
			_ = o.Line("metadata.name")
			_ = o.Line("spec.template.spec.containers[0].image")
			n, ok := countNodes(o.Content, 0)
			if !ok {
				bad = append(bad, "content holds a value that is not JSON-compatible")
			}
			nodes += n
		})
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("Decode of %d bytes did not finish in 20s", len(data))
	}
	for _, b := range bad {
		t.Error(b)
	}
	// Bounded work: without aliases a node needs at least one byte of input;
	// each alias (one '*') may expand to at most MaxAliasNodes nodes.
	if limit := 2*(len(data)+1) + bytes.Count(data, []byte("*"))*lim.MaxAliasNodes; nodes > limit {
		t.Errorf("decoded %d nodes from %d bytes, more than the bound %d", nodes, len(data), limit)
	}
	for _, e := range errs {
		if e.File != file {
			t.Errorf("error %q names file %q, want %q", e.Error(), e.File, file)
		}
		if e.Message == "" || strings.ContainsAny(e.Message, "\r\n") {
			t.Errorf("error message %q is empty or not one line", e.Message)
		}
		if e.Line < 0 || e.Line > lines+1 {
			t.Errorf("error %q: line %d outside the input's %d lines", e.Error(), e.Line, lines)
		}
	}
	return objects, errs
}

// yamlLines counts lines the way the YAML parser does: CRLF, lone CR, LF,
// NEL, LS and PS each end a line.
func yamlLines(data []byte) int {
	n := 1
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			n++
		case data[i] == '\n':
			n++
		case bytes.HasPrefix(data[i:], []byte("\u0085")), bytes.HasPrefix(data[i:], []byte("\u2028")), bytes.HasPrefix(data[i:], []byte("\u2029")):
			n++
		}
	}
	return n
}

// countNodes counts the values under v and reports whether all of them are
// JSON-compatible types.
func countNodes(v any, depth int) (int, bool) {
	if depth > 10_000 {
		return 0, false
	}
	switch x := v.(type) {
	case map[string]any:
		n := 1
		for _, e := range x {
			c, ok := countNodes(e, depth+1)
			if !ok {
				return n, false
			}
			n += c
		}
		return n, true
	case []any:
		n := 1
		for _, e := range x {
			c, ok := countNodes(e, depth+1)
			if !ok {
				return n, false
			}
			n += c
		}
		return n, true
	case string, int64, float64, bool, nil:
		return 1, true
	}
	return 1, false
}

// FuzzDecode feeds arbitrary bytes to Decode, reaching both the YAML decoder
// and the JSON fallback.
func FuzzDecode(f *testing.F) {
	for _, s := range seedInputs {
		f.Add([]byte(s))
	}
	for _, s := range corpusSnippets(f, 12) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, "in.yaml", data, fuzzLimits)
	})
}

// corpusSnippets returns up to n files of the real-world corpus, cut to 8 KiB.
func corpusSnippets(f *testing.F, n int) [][]byte {
	var out [][]byte
	root := filepath.Join("..", "..", "testdata", "corpus")
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || len(out) >= n || !manifestExt(p) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err == nil {
			out = append(out, data[:min(len(data), 8<<10)])
		}
		if len(out) >= n {
			return fs.SkipAll
		}
		return nil
	})
	return out
}

// FuzzWalk lays the fuzz input out as files in a directory tree with a
// symlinked copy, a directory symlink loop and a non-manifest file, then
// walks, reads and decodes it as a scan does. Every error must name a path
// inside the tree; the non-manifest file must never be read.
func FuzzWalk(f *testing.F) {
	for i, s := range seedInputs {
		f.Add([]byte(s), uint8(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, layout uint8) {
		dir := t.TempDir()
		names := []string{"a.yaml", "b.yml", "c.json", "d.YAML"}
		name := names[int(layout)%len(names)]
		sub := filepath.Join(dir, "sub")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(os.WriteFile(filepath.Join(sub, name), data, 0o644))
		must(os.WriteFile(filepath.Join(dir, "notes.txt"), data, 0o644))
		if layout&4 != 0 {
			must(os.Symlink(filepath.Join("sub", name), filepath.Join(dir, "link-"+name)))
		}
		if layout&8 != 0 {
			must(os.Symlink("..", filepath.Join(sub, "up")))
		}
		if layout&16 != 0 {
			must(os.Symlink("missing.yaml", filepath.Join(dir, "dangling.yaml")))
		}
		lim := fuzzLimits
		if layout&32 != 0 {
			lim.MaxFileSize = 64
		}

		var units []Unit
		var errs []InputError
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		Walk(ctx, []string{dir}, Options{Limits: lim}, func(u Unit) { units = append(units, u) },
			func(e InputError) { errs = append(errs, e) })
		if ctx.Err() != nil {
			t.Fatal("walk did not finish in 20s")
		}
		maxUnits := 1
		if layout&4 != 0 {
			maxUnits++
		}
		if len(units) > maxUnits {
			t.Errorf("walk produced %d units, want at most %d (each file once)", len(units), maxUnits)
		}
		for _, u := range units {
			if strings.HasSuffix(u.File, ".txt") {
				t.Errorf("walk emitted non-manifest %s", u.File)
			}
			data, ierr := ReadUnit(u, lim)
			if ierr != nil {
				errs = append(errs, *ierr)
				continue
			}
			_, derrs := checkDecode(t, u.File, data, lim)
			errs = append(errs, derrs...)
		}
		for _, e := range errs {
			if e.File != dir && !strings.HasPrefix(e.File, dir+string(filepath.Separator)) {
				t.Errorf("error %q does not name a path in the scanned tree", e.Error())
			}
			if e.Message == "" || strings.ContainsAny(e.Message, "\r\n") {
				t.Errorf("error message %q is empty or not one line", e.Message)
			}
		}
		if int64(len(data)) > lim.MaxFileSize && len(units) > 0 && len(errs) == 0 {
			t.Errorf("%d-byte input over the %d-byte limit gave no error", len(data), lim.MaxFileSize)
		}
	})
}
