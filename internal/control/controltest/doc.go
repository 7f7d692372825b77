// Package controltest is the test scaffolding shared by the control family
// packages under internal/control/library: finding a family's control by
// ID, decoding YAML test documents into objects, running a per-object check
// or a cross-object check on them, and reading and benchmarking the
// real-world corpus at testdata/corpus.
//
// It depends on control, k8s and load only, never on a family package:
// families hand it their Controls function as a Family.
package controltest
