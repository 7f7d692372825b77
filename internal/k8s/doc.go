// Package k8s holds Rampart's object model: a Kubernetes object decoded from
// some source together with where it came from, typed views over pod-bearing
// kinds, and the Inventory that cross-object analysis reads.
package k8s
