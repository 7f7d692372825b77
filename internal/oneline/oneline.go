// Package oneline folds messages onto one line: errors that name a file,
// an endpoint or a layer are printed one per line, whatever the library
// that produced them put in them.
package oneline

import "strings"

// String returns s with every run of white space, newlines included,
// replaced by one space, and no leading or trailing space.
func String(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Err returns err's message on one line (String); "" for nil.
func Err(err error) string {
	if err == nil {
		return ""
	}
	return String(err.Error())
}
