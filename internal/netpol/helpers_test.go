package netpol

import (
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
)

// world is the cluster the semantics tests run in: namespaces with labels
// and pods in them, to which each test adds its policies.
const world = `
apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Namespace
metadata: {name: myproject-ns, labels: {project: myproject}}
---
apiVersion: v1
kind: Namespace
metadata: {name: alice-ns, labels: {user: alice}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: default, labels: {role: frontend}}
spec: {containers: [{name: c, image: nginx, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: default}
spec:
  selector: {matchLabels: {role: db}}
  template:
    metadata: {labels: {role: db}}
    spec:
      containers:
      - name: redis
        image: redis
        ports:
        - {name: redis, containerPort: 6379}
        - {name: metrics, containerPort: 9121}
        - {name: dns-like, containerPort: 5353, protocol: UDP}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {role: client}}
spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: any, namespace: myproject-ns, labels: {app: x}}
spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: alice-ns, labels: {role: client}}
spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: alice-ns, labels: {role: other}}
spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: other, labels: {role: frontend}}
spec: {containers: [{name: c, image: busybox}]}
`

// modelOf decodes YAML documents into a model.
func modelOf(t *testing.T, docs ...string) *Model {
	t.Helper()
	inv := k8s.NewInventory()
	data := []byte(strings.Join(docs, "\n---\n"))
	errs := load.Decode(load.Unit{File: "test.yaml", Data: data}, data, load.DefaultLimits, func(o *k8s.Object) {
		inv.Add(k8s.EntryFor(o))
	})
	if len(errs) > 0 {
		t.Fatalf("decoding: %v", errs)
	}
	return FromInventory(inv)
}

// reach evaluates FROM -> TO [port] and returns the connection (one pair).
func reach(t *testing.T, m *Model, from, to, port string) *Connection {
	t.Helper()
	fs, err := m.ParseEndpoint(from)
	if err != nil || len(fs) != 1 {
		t.Fatalf("FROM %q: %v (%d endpoints)", from, err, len(fs))
	}
	ts, err := m.ParseEndpoint(to)
	if err != nil || len(ts) != 1 {
		t.Fatalf("TO %q: %v (%d endpoints)", to, err, len(ts))
	}
	var q *Query
	if port != "" {
		if q, err = ParseQuery(port); err != nil {
			t.Fatalf("port %q: %v", port, err)
		}
	}
	c, err := m.Reach(fs[0], ts[0], q)
	if err != nil {
		t.Fatalf("reach: %v", err)
	}
	return c
}
