// Package load turns user inputs (files, directories, stdin, Helm charts and
// Kustomize overlays) into Units of YAML or JSON documents and decodes those
// into k8s.Objects with line information. Every problem with an input becomes
// an InputError naming the file and line; it never stops the rest of the scan.
package load
