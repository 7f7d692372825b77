package oneline

import (
	"errors"
	"testing"
)

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                                       "",
		"plain":                                  "plain",
		"  dial tcp:\n\tconnection\r\nrefused  ": "dial tcp: connection refused",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
		if in != "" {
			if got := Err(errors.New(in)); got != want {
				t.Errorf("Err(%q) = %q, want %q", in, got, want)
			}
		}
	}
	if Err(nil) != "" {
		t.Error("Err(nil) not empty")
	}
}
