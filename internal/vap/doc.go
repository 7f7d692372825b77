// Package vap exports controls as native ValidatingAdmissionPolicy and
// ValidatingAdmissionPolicyBinding objects (admissionregistration.k8s.io/v1),
// so that a cluster enforces them without any webhook: the built-in
// controls that CEL can express, through hand-written translations held to
// their Go checks by tests, and custom rules in CEL (package celrules) as
// written.
package vap
