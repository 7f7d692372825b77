// Package celrules loads custom rules written in CEL, compiles them once and
// turns them into controls the engine runs like the built-in ones, in scans
// and in the admission webhook alike.
//
// A rule follows the conventions of a ValidatingAdmissionPolicy: its
// expression sees the object under evaluation as `object` and is true when
// the object is valid; optional variables are visible as `variables.<name>`.
// The same compiled Program evaluates the hand-written translations of the
// built-in controls that rampart vap export writes out, so what a scan
// reports and what the API server enforces come from one evaluator.
package celrules
