// Package report defines the Result of a scan (findings, scores, input
// errors), whose JSON form is Rampart's stable report schema
// (schema/report.schema.json), and the Writer interface that every output
// format implements in its own sub-package.
package report
