package fastjson

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// pages reads the captured LIST pages of testdata/pages.
func pages(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob("testdata/pages/*.json")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no pages in testdata/pages: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = data
	}
	return out
}

// TestDecodePages holds DecodeList to client-go's UnstructuredList decoding
// on the captured pages.
func TestDecodePages(t *testing.T) {
	d := NewDecoder()
	for name, data := range pages(t) {
		t.Run(name, func(t *testing.T) {
			var want unstructured.UnstructuredList
			if err := utiljson.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			got, err := d.DecodeList(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Items) != len(want.Items) || got.Continue != want.GetContinue() || got.ResourceVersion != want.GetResourceVersion() {
				t.Fatalf("%d items continue %q rv %q; want %d, %q, %q", len(got.Items), got.Continue, got.ResourceVersion, len(want.Items), want.GetContinue(), want.GetResourceVersion())
			}
			for i, item := range got.Items {
				item["kind"], item["apiVersion"] = want.Items[i].GetKind(), want.Items[i].GetAPIVersion()
				if !reflect.DeepEqual(item, want.Items[i].Object) {
					t.Fatalf("item %d differs", i)
				}
			}
		})
	}
}

// BenchmarkDecodeList decodes each captured page with DecodeList (one
// Decoder reused, as the cluster loader does per worker), with client-go's
// UnstructuredList decoding (what the dynamic client runs on each page,
// less its kind-sniffing pass) and with sigs.k8s.io/json into an any (one
// plain decode of the whole page).
func BenchmarkDecodeList(b *testing.B) {
	all := pages(b)
	for _, name := range []string{"deployments", "pods", "services", "configmaps", "roles", "rolebindings", "clusterroles"} {
		data, ok := all[name]
		if !ok {
			b.Fatalf("no page %s", name)
		}
		b.Run(name+"/fastjson", func(b *testing.B) {
			d := NewDecoder()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.DecodeList(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/client-go", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var l unstructured.UnstructuredList
				if err := utiljson.Unmarshal(data, &l); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/sigs.k8s.io-json", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var v any
				if err := utiljson.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
