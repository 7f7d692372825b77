// Package control defines what a Rampart control is: metadata kept as data
// (embedded YAML) joined by ID to check logic written in Go, plus the
// Registry that holds the controls of one process and the framework specs
// that map them to NSA-CISA, CIS, Pod Security Standards and MITRE ATT&CK.
package control
