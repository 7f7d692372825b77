package detect

import (
	"time"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// Alert is one detection: a rule that matched an event, with the event's key
// facts and the context of what it concerns. Secret values are never part of
// an alert.
type Alert struct {
	// Rule is the rule ID.
	Rule string `json:"rule"`
	// Title is the rule's title.
	Title string `json:"title"`
	// Severity is low, medium, high or critical.
	Severity string `json:"severity"`
	// MITRE lists the rule's MITRE ATT&CK technique IDs.
	MITRE []string `json:"mitre"`
	// Tags are the rule's tags.
	Tags []string `json:"tags,omitempty"`
	// Source is the stream: audit or sensor.
	Source string `json:"source"`
	// Time is when the event happened.
	Time time.Time `json:"time"`
	// Output is the rule's message for the event.
	Output string `json:"output"`
	// Event holds the event's key facts (audit: auditID, verb, user,
	// resource, namespace, name, sourceIPs, userAgent, response code;
	// sensor: process, arguments, file, address...).
	Event map[string]string `json:"event"`
	// Object is what the event acted on (audit: the request's object;
	// sensor: the pod, or the host).
	Object k8s.Ref `json:"object"`
	// Location is where the event was read (a log file and line), when it
	// came from a file.
	Location *k8s.Source `json:"location,omitempty"`
	// Context is what the event concerns: workload, image, identity and
	// its permissions, exposure.
	Context Context `json:"context"`
	// Count is how many events this emission stands for: 1, or more when
	// repeats within the rule's cooldown were folded into it.
	Count int `json:"count"`
	// FirstSeen and LastSeen bound the events counted.
	FirstSeen time.Time `json:"firstSeen"`
	// LastSeen is the time of the last event counted.
	LastSeen time.Time `json:"lastSeen"`
	// Key is the dedupe key (rule ID and key values).
	Key string `json:"-"`
}

// Context is what an alert concerns, resolved from the cluster's inventory
// (or the node, for the sensor). Fields that do not apply are empty.
type Context struct {
	// Cluster names the cluster (kubeconfig context), when known.
	Cluster string `json:"cluster,omitempty"`
	// Namespace is the namespace concerned.
	Namespace string `json:"namespace,omitempty"`
	// Pod is the pod concerned.
	Pod string `json:"pod,omitempty"`
	// Container is the container concerned.
	Container string `json:"container,omitempty"`
	// WorkloadKind and WorkloadName are the pod's top-level owner
	// (ReplicaSet → Deployment, Job → CronJob resolved); the pod itself
	// when it has no owner.
	WorkloadKind string `json:"workloadKind,omitempty"`
	// WorkloadName is the top-level owner's name.
	WorkloadName string `json:"workloadName,omitempty"`
	// Node is the node the pod runs on (or the sensor's node).
	Node string `json:"node,omitempty"`
	// Image is the container image (the pod's first container when the
	// event names no container).
	Image string `json:"image,omitempty"`
	// ImageDigest is the image digest, when known (from the pod status).
	ImageDigest string `json:"imageDigest,omitempty"`
	// Images lists every container image of the pod when it has several.
	Images []string `json:"images,omitempty"`
	// ServiceAccount is the ServiceAccount concerned: the pod's, or the
	// requesting ServiceAccount (namespace/name).
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// ServiceAccountRisks are the ServiceAccount's risky permissions, from
	// the RBAC analysis (e.g. "secrets-read: can read secrets cluster-wide").
	ServiceAccountRisks []string `json:"serviceAccountRisks,omitempty"`
	// Exposure lists what exposes the pod: "Service/x type LoadBalancer",
	// "Service/y type NodePort", "Ingress/z".
	Exposure []string `json:"exposure,omitempty"`
	// Vulnerabilities counts the image's known vulnerabilities by severity,
	// when it was scanned.
	Vulnerabilities map[string]int `json:"vulnerabilities,omitempty"`
	// Host is true for events outside any container (sensor).
	Host bool `json:"host,omitempty"`
	// Notes say what could not be resolved and why (e.g. "pod taken from
	// the request: not yet in the inventory").
	Notes []string `json:"notes,omitempty"`
}

// NewAlert builds the alert of a match at time t, with the event's key
// facts; Count is 1.
func NewAlert(m Match, source string, t time.Time, facts map[string]string, ctx Context) Alert {
	r := m.Rule
	return Alert{
		Rule: r.ID, Title: r.Title, Severity: r.Severity.String(), MITRE: r.MITRE, Tags: r.Tags,
		Source: source, Time: t, Output: m.Output, Event: facts, Context: ctx,
		Count: 1, FirstSeen: t, LastSeen: t, Key: m.Key,
	}
}
