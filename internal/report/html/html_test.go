package html

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	xhtml "golang.org/x/net/html"

	"github.com/rampart-dev/rampart/internal/report"
	"github.com/rampart-dev/rampart/internal/report/reporttest"
	"github.com/rampart-dev/rampart/internal/testutil"
)

func render(t *testing.T, r *report.Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := (Writer{}).Write(&buf, r, report.Options{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for _, tc := range reporttest.Cases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			testutil.Golden(t, filepath.Join("testdata", tc.Name+".golden.html"), render(t, tc.Result))
		})
	}
}

// walk calls fn on every element of the parsed page.
func walk(n *xhtml.Node, fn func(*xhtml.Node)) {
	if n.Type == xhtml.ElementNode {
		fn(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *xhtml.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// TestSelfContainedAndEscaped parses every page and checks that it loads
// nothing from elsewhere, runs only its own script, and shows user content
// as text.
func TestSelfContainedAndEscaped(t *testing.T) {
	for _, tc := range reporttest.Cases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			out := render(t, tc.Result)
			doc, err := xhtml.Parse(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			var scripts, rows int
			walk(doc, func(n *xhtml.Node) {
				switch n.Data {
				case "script":
					scripts++
					if _, ok := attr(n, "src"); ok {
						t.Error("script with src")
					}
				case "link", "img", "iframe", "object", "embed":
					t.Errorf("element <%s> in a self-contained page", n.Data)
				case "tr":
					if _, ok := attr(n, "data-rank"); ok {
						rows++
					}
				}
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Key, "on") {
						t.Errorf("inline event handler %s=%q on <%s>", a.Key, a.Val, n.Data)
					}
					if a.Key == "src" {
						t.Errorf("<%s src=%q>", n.Data, a.Val)
					}
				}
			})
			if scripts != 1 {
				t.Errorf("%d script elements, want only the page's own", scripts)
			}
			if rows != len(tc.Result.Findings) {
				t.Errorf("%d finding rows, want %d", rows, len(tc.Result.Findings))
			}
			for _, bad := range []string{"url(", "@import", "http://"} {
				if bytes.Contains(out, []byte(bad)) {
					t.Errorf("page contains %q", bad)
				}
			}
		})
	}
}

func TestContent(t *testing.T) {
	tests := []struct {
		name   string
		result *report.Result
		want   []string
		absent []string
	}{
		{name: "scan", result: reporttest.Scan(t, reporttest.Dir()),
			want: []string{`<option value="test-privileged">`, `<option value="excepted">`, "invalid YAML: did not find expected &#39;,&#39; or &#39;]&#39;",
				"&lt;script&gt;alert(1)&lt;/script&gt;", "excepted by annotation: needs host access for node metrics", "expired on 2024-01-01",
				`style="width:0.0%"`, `aria-label="critical: 2"`},
			absent: []string{"<script>alert(1)", "<img src=x", "<b>&amp;"}},
		{name: "handmade", result: reporttest.Handmade(),
			want:   []string{"Framework &lt;A&gt;", "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", `style="width:33.3%"`, "n/a", "&lt;b&gt;privileged&lt;/b&gt;"},
			absent: []string{`<script>alert("x")`, "<b>privileged</b>", "\x1b", "\x01"}},
		{name: "empty", result: reporttest.Scan(t), want: []string{"No findings.", "None."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := string(render(t, tc.result))
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(out, a) {
					t.Errorf("page contains unescaped %q", a)
				}
			}
		})
	}
}
