// Package e2e runs the built rampart binary end to end on the shipped
// examples and checks exit codes and reports.
package e2e
