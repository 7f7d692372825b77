// Package detect is Rampart's runtime detection core, shared by the
// Kubernetes audit-log stream (internal/auditlog) and the eBPF sensor
// (internal/sensor).
//
// A Source describes one event stream: its name ("audit", "sensor"), the
// CEL declarations of the variables its rules see, the prefilter facts of
// an event (verb, resource, subresource, namespace, event type) and a lazy
// CEL activation over an event. Rules are YAML (LoadFile, LoadDir,
// Defaults): an id, title, severity, MITRE ATT&CK techniques, an optional
// prefilter block evaluated in Go, a CEL condition, an output template of
// ${expr} placeholders and dedupe keys with a cooldown. Compile turns the
// rules of one source into a RuleSet once; RuleSet.Eval returns every rule
// that matches an event (never first-match-wins).
//
// A match becomes an Alert (rule metadata, the event's key facts and a
// Context: workload, image, ServiceAccount and its risky permissions,
// exposure, vulnerabilities). A Dispatcher deduplicates alerts by key with
// a cooldown and a count (bounded memory) and delivers them to Sinks:
// JSON lines on a writer or a file, a webhook (JSON or Slack-compatible,
// retries with backoff) and Prometheus counters; Report turns alerts into
// a report.Result for the scan report formats.
package detect
