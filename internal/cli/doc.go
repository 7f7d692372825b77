// Package cli holds Rampart's cobra commands, one file per verb.
package cli
