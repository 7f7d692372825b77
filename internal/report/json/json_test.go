package json_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/rampart-dev/rampart/internal/report"
	jsonw "github.com/rampart-dev/rampart/internal/report/json"
	"github.com/rampart-dev/rampart/internal/report/reporttest"
	"github.com/rampart-dev/rampart/internal/testutil"
)

func TestGolden(t *testing.T) {
	for _, tc := range reporttest.Cases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := (jsonw.Writer{}).Write(&buf, tc.Result, report.Options{}); err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, filepath.Join("testdata", tc.Name+".golden.json"), buf.Bytes())
		})
	}
}
