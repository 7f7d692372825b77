package sign

import (
	"fmt"
	"testing"
	"time"
)

func TestLRUBounded(t *testing.T) {
	now := time.Unix(0, 0)
	c := newLRU(3, time.Hour, func() time.Time { return now })
	for i := range 5 {
		c.put(fmt.Sprint(i), &Result{Digest: fmt.Sprint(i)})
	}
	if c.len() != 3 {
		t.Fatalf("len %d, want 3", c.len())
	}
	// In a fixed order: each hit makes its key the most recently used.
	for _, kw := range []struct {
		key  string
		want bool
	}{{"0", false}, {"1", false}, {"2", true}, {"3", true}, {"4", true}} {
		if _, ok := c.get(kw.key); ok != kw.want {
			t.Errorf("get(%s) = %v, want %v", kw.key, ok, kw.want)
		}
	}
	c.get("2") // 2 is now the most recently used; 3 goes next
	c.put("5", &Result{})
	if _, ok := c.get("3"); ok {
		t.Error("3 should have been evicted")
	}
	if _, ok := c.get("2"); !ok {
		t.Error("2 should have been kept")
	}
}
