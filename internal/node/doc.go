// Package node audits the Kubernetes components running on one machine
// against the CIS Kubernetes Benchmark v1.10 (sections 1 to 4): it finds
// kube-apiserver, etcd, kube-controller-manager, kube-scheduler, kubelet and
// kube-proxy processes in /proc, resolves each setting the way the
// component itself would (command-line flag, then its config file, then the
// defaults of that file's API version or of the binary), reads the config
// files the checks need and stats (never reads) the PKI and config files
// whose permissions and ownership CIS prescribes.
//
// Everything is read through a Host rooted at a directory, so that the audit
// runs in a Pod with the node's filesystem mounted at /host. A file that
// cannot be read or parsed turns the checks that needed it into warnings
// naming the reason; the rest of the audit completes.
package node
