// Package engine evaluates controls over objects and produces a
// report.Result. The same Session serves file scans, cluster scans and single
// admission requests: objects stream in (concurrently), per-object controls
// run at once while the YAML node is still at hand for line numbers, and
// cross-object controls run over the Inventory when the session finishes.
package engine
