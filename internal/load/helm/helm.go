// Package helm renders Helm chart directories in-process with the Helm SDK
// so that their templates can be scanned like plain manifests.
//
// A chart is rendered client-side, as `helm template` would: no cluster is
// contacted, Capabilities are Helm's defaults and `lookup` returns nothing.
// Every rendered template becomes one load.Unit whose File is the template's
// path on disk, so findings point at the template that produced them.
package helm

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// DefaultReleaseName is the release name used when Options.ReleaseName is empty.
const DefaultReleaseName = "rampart-scan"

// Options configure how charts are rendered.
type Options struct {
	// ValueFiles are values files merged in order over the chart's
	// values.yaml, like `helm template -f`. Relative paths are relative to
	// the working directory.
	ValueFiles []string
	// Set are `--set key=value[,key=value]` overrides applied after ValueFiles.
	Set []string
	// ReleaseName is .Release.Name; DefaultReleaseName when empty.
	ReleaseName string
	// Namespace is .Release.Namespace and the namespace given to namespaced
	// objects that do not set one. When empty, templates see "default" (as
	// with helm template) but objects are left without a namespace: where
	// they land is decided at install time, not by the chart.
	Namespace string
}

// Renderer renders directories holding a Chart.yaml. It implements load.Renderer.
type Renderer struct {
	opts Options
}

// New returns a Renderer using opts.
func New(opts Options) *Renderer {
	if opts.ReleaseName == "" {
		opts.ReleaseName = DefaultReleaseName
	}
	return &Renderer{opts: opts}
}

var _ load.Renderer = (*Renderer)(nil)

// Name returns "helm".
func (r *Renderer) Name() string { return "helm" }

// IsRoot reports whether names holds a Chart.yaml.
func (r *Renderer) IsRoot(names []string) bool {
	return slices.Contains(names, chartutil.ChartfileName)
}

// Render renders the chart in dir. It returns one unit per non-empty
// rendered template (NOTES.txt and partials excluded) and dir as the only
// consumed path.
func (r *Renderer) Render(ctx context.Context, dir string) ([]load.Unit, []string, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	consumed := []string{absPath(dir)}
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, consumed, fmt.Errorf("loading chart: %w", err)
	}
	if chrt.Metadata != nil && chrt.Metadata.Type == "library" {
		return nil, consumed, nil // library charts render nothing
	}
	if err := checkDependencies(chrt); err != nil {
		return nil, consumed, err
	}
	vals, err := r.values()
	if err != nil {
		return nil, consumed, err
	}
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return nil, consumed, fmt.Errorf("processing dependencies: %w", err)
	}
	top, err := chartutil.ToRenderValues(chrt, vals, chartutil.ReleaseOptions{
		Name:      r.opts.ReleaseName,
		Namespace: cmp.Or(r.opts.Namespace, "default"),
		Revision:  1,
		IsInstall: true,
	}, nil)
	if err != nil {
		return nil, consumed, err
	}
	rendered, err := engine.Render(chrt, top)
	if err != nil {
		return nil, consumed, err
	}

	templates := map[string][]byte{}
	collectTemplates(chrt, templates)
	keys := make([]string, 0, len(rendered))
	for k := range rendered {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	origin := "helm:" + dir
	var units []load.Unit
	for _, k := range keys {
		out := rendered[k]
		base := path.Base(k)
		if strings.HasSuffix(k, "NOTES.txt") || strings.HasPrefix(base, "_") {
			continue
		}
		if strings.TrimSpace(stripComments(out)) == "" {
			continue
		}
		units = append(units, load.Unit{
			File:             templateFile(dir, chrt, k),
			Origin:           origin,
			DefaultNamespace: r.opts.Namespace,
			Data:             []byte(out),
			LineOf:           lineMapper(templates[k]),
			MapLine:          alignLines(templates[k], out),
		})
	}
	return units, consumed, nil
}

// values merges the values files and --set overrides.
func (r *Renderer) values() (map[string]any, error) {
	base := map[string]any{}
	for _, f := range r.opts.ValueFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("values file: %w", err)
		}
		cur := map[string]any{}
		if err := yaml.Unmarshal(data, &cur); err != nil {
			return nil, fmt.Errorf("values file %s: %w", f, err)
		}
		base = mergeMaps(base, cur)
	}
	for _, s := range r.opts.Set {
		if err := strvals.ParseInto(s, base); err != nil {
			return nil, fmt.Errorf("--set %q: %w", s, err)
		}
	}
	return base, nil
}

// mergeMaps merges b into a copy of a, recursing into nested maps, as Helm
// does for successive values files.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// checkDependencies fails, like `helm template`, when Chart.yaml declares a
// dependency that charts/ does not hold.
func checkDependencies(c *chart.Chart) error {
	if c.Metadata == nil {
		return nil
	}
	var missing []string
	for _, d := range c.Metadata.Dependencies {
		found := false
		for _, sub := range c.Dependencies() {
			if sub.Name() == d.Name {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, d.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("found in Chart.yaml, but missing in charts/ directory: %s (run helm dependency build)", strings.Join(missing, ", "))
	}
	for _, sub := range c.Dependencies() {
		if err := checkDependencies(sub); err != nil {
			return err
		}
	}
	return nil
}

// collectTemplates maps the engine's output keys to template sources.
func collectTemplates(c *chart.Chart, out map[string][]byte) {
	for _, t := range c.Templates {
		if t != nil {
			out[path.Join(c.ChartFullPath(), t.Name)] = t.Data
		}
	}
	for _, d := range c.Dependencies() {
		collectTemplates(d, out)
	}
}

// templateFile maps an engine output key ("demo/charts/sub/templates/x.yaml")
// to the template's path under dir. Subcharts are located on disk through
// their Chart.yaml names (and aliases); a subchart packed as a .tgz yields
// "<archive>/templates/x.yaml".
func templateFile(dir string, root *chart.Chart, key string) string {
	parts := strings.Split(key, "/")[1:] // drop the root chart name
	cur := dir
	meta := root.Metadata
	for len(parts) >= 2 && parts[0] == "charts" {
		name := parts[1]
		sub, subMeta, archive := findSubchart(cur, meta, name)
		if sub == "" {
			break
		}
		parts = parts[2:]
		if archive {
			return filepath.Join(append([]string{sub}, parts...)...)
		}
		cur, meta = sub, subMeta
	}
	return filepath.Join(append([]string{cur}, parts...)...)
}

// findSubchart finds the directory or archive under dir/charts holding the
// chart called name (possibly an alias declared in meta).
func findSubchart(dir string, meta *chart.Metadata, name string) (string, *chart.Metadata, bool) {
	want := []string{name}
	if meta != nil {
		for _, d := range meta.Dependencies {
			if d.Alias == name && d.Name != name {
				want = append(want, d.Name)
			}
		}
	}
	chartsDir := filepath.Join(dir, "charts")
	entries, err := os.ReadDir(chartsDir)
	if err != nil {
		return "", nil, false
	}
	for _, w := range want {
		for _, e := range entries {
			p := filepath.Join(chartsDir, e.Name())
			if e.IsDir() {
				data, err := os.ReadFile(filepath.Join(p, chartutil.ChartfileName))
				if err != nil {
					continue
				}
				var m chart.Metadata
				if yaml.Unmarshal(data, &m) == nil && m.Name == w {
					return p, &m, false
				}
				continue
			}
			if strings.HasSuffix(e.Name(), ".tgz") && strings.HasPrefix(e.Name(), w+"-") {
				return p, nil, true
			}
		}
	}
	return "", nil, false
}

var (
	kindLine = regexp.MustCompile(`^kind:\s*["']?([^"'\s#]+)`)
	topKey   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*:`)
)

// lineMapper returns a load.Unit LineOf function placing each rendered
// object at its document in the template source: the n-th object of a kind
// maps to the n-th top-level "kind: <Kind>" line of the template (the last
// one when a range loop renders more objects than the template spells out),
// moved up over directly preceding top-level keys such as apiVersion.
// Objects whose kind is itself templated map to the n-th kind line overall.
// Field-level lines are not mapped: rendered lines do not match template
// lines in general.
func lineMapper(src []byte) func(*k8s.Object) int {
	if src == nil {
		return nil
	}
	lines := strings.Split(string(src), "\n")
	type kl struct {
		line int // 0-based
		kind string
	}
	var kinds []kl
	for i, l := range lines {
		if m := kindLine.FindStringSubmatch(l); m != nil {
			kinds = append(kinds, kl{i, m[1]})
		}
	}
	seen := map[string]int{}
	total := 0
	return func(obj *k8s.Object) int {
		kind := obj.Kind()
		n := seen[kind]
		seen[kind]++
		idx := total
		total++
		var match []int
		for _, k := range kinds {
			if k.kind == kind {
				match = append(match, k.line)
			}
		}
		var at int
		switch {
		case len(match) > 0:
			at = match[min(n, len(match)-1)]
		case len(kinds) > 0:
			at = kinds[min(idx, len(kinds)-1)].line
		default:
			return 1
		}
		for at > 0 && topKey.MatchString(lines[at-1]) {
			at--
		}
		return at + 1
	}
}

// alignLines maps lines of a template's rendered output to lines of the
// template source, for field-level findings. Going down both in step, a
// rendered line matches the next template line with the same text (a
// literal line), else the next one with the same key whose value is a
// template action ("image: {{ .Values.image }}"); a search that fails ahead
// looks back from there, for range loops. Lines with no counterpart (output
// of include or toYaml) map to 0.
func alignLines(src []byte, rendered string) func(int) int {
	if src == nil {
		return nil
	}
	tmpl := strings.Split(string(src), "\n")
	type tline struct{ text, key string }
	tl := make([]tline, len(tmpl))
	for i, l := range tmpl {
		t := strings.TrimSpace(l)
		tl[i] = tline{text: t, key: yamlKey(t)}
	}
	// find looks at template lines from..to-1, forward, or backward when
	// from > to (a range loop's body lies just behind).
	find := func(text, key string, from, to int) int {
		step := 1
		if from > to {
			step = -1
		}
		for i := from; i != to; i += step {
			if !strings.Contains(tl[i].text, "{{") && tl[i].text == text {
				return i
			}
		}
		if key == "" {
			return -1
		}
		for i := from; i != to; i += step {
			if strings.Contains(tl[i].text, "{{") && tl[i].key == key {
				return i
			}
		}
		return -1
	}
	out := strings.Split(rendered, "\n")
	m := make([]int, len(out)+1)
	next := 0
	for r, l := range out {
		t := strings.TrimSpace(l)
		if t == "" || t == "---" || strings.HasPrefix(t, "#") {
			continue
		}
		key := yamlKey(t)
		i := find(t, key, next, min(next+200, len(tl)))
		if i < 0 {
			i = find(t, key, next-1, -1)
		}
		if i >= 0 {
			m[r+1] = i + 1
			next = i + 1
		}
	}
	return func(line int) int {
		if line <= 0 || line >= len(m) {
			return 0
		}
		return m[line]
	}
}

// yamlKey returns the mapping key a trimmed YAML line starts with ("- "
// list markers removed), or "".
func yamlKey(t string) string {
	t = strings.TrimPrefix(t, "- ")
	i := strings.Index(t, ":")
	if i <= 0 || strings.ContainsAny(t[:i], " {}\"'") {
		return ""
	}
	return t[:i]
}

// stripComments drops comment-only lines and document separators so that a
// template rendering to nothing but "---" and comments counts as empty.
func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") || t == "---" {
			continue
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}
