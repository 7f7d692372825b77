package node

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-dev/rampart/internal/audit"
	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/report"
)

const (
	critical = control.SeverityCritical
	high     = control.SeverityHigh
	medium   = control.SeverityMedium
	low      = control.SeverityLow
)

// mk builds a check; title is the CIS title without its (Automated) or
// (Manual) suffix.
func mk(id, target string, sev control.Severity, manualInCIS bool, title, remediation string, run func(*auditor, *Check) []audit.Result) *Check {
	return &Check{
		Check:  audit.Check{ID: "cis-" + id, Title: title, Severity: sev, Remediation: remediation, Item: id},
		Target: target, Manual: manualInCIS, run: run,
	}
}

const (
	apiManifest = "Edit the API server pod specification file /etc/kubernetes/manifests/kube-apiserver.yaml on the control plane node and "
	cmManifest  = "Edit the Controller Manager pod specification file /etc/kubernetes/manifests/kube-controller-manager.yaml on the control plane node and "
	schManifest = "Edit the Scheduler pod specification file /etc/kubernetes/manifests/kube-scheduler.yaml on the control plane node and "
	etcdConf    = "Edit the etcd pod specification file /etc/kubernetes/manifests/etcd.yaml on the master node (or the etcd service's flags or config file) and "
	kubeletConf = "Edit the kubelet config file (--config, e.g. /var/lib/kubelet/config.yaml) or, when the kubelet runs without one, its flags (e.g. /etc/systemd/system/kubelet.service.d/10-kubeadm.conf), then restart the kubelet: "
)

func chmod(mode string) string {
	return "Run `chmod " + mode + " <file>` on the node for each file listed."
}
func chown(owner string) string {
	return "Run `chown " + owner + " <file>` on the node for each file listed."
}

var kubeletServiceFiles = []string{
	"/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
	"/lib/systemd/system/kubelet.service", "/etc/systemd/system/kubelet.service", "/usr/lib/systemd/system/kubelet.service",
}

func truthy(v string) bool { return strings.EqualFold(v, "true") }

// Checks returns the CIS Kubernetes Benchmark v1.10 checks, in CIS order.
func Checks() []*Check {
	m600, m700 := fs.FileMode(0o600), fs.FileMode(0o700)
	manifestPerm := func(id, what, file, comp string) []*Check {
		n, _ := strconv.Atoi(id[strings.LastIndexByte(id, '.')+1:])
		spec := fileSpec{comp: comp, paths: manifest(file)}
		return []*Check{
			mk(id, TargetMaster, medium, false, "Ensure that the "+what+" pod specification file permissions are set to 600 or more restrictive", chmod("600"), fileCheck(spec, maxMode(m600))),
			mk("1.1."+strconv.Itoa(n+1), TargetMaster, medium, false, "Ensure that the "+what+" pod specification file ownership is set to root:root", chown("root:root"), fileCheck(spec, ownedBy("root", "root"))),
		}
	}
	var cs []*Check
	cs = append(cs, manifestPerm("1.1.1", "API server", "kube-apiserver.yaml", APIServer)...)
	cs = append(cs, manifestPerm("1.1.3", "controller manager", "kube-controller-manager.yaml", ControllerManager)...)
	cs = append(cs, manifestPerm("1.1.5", "scheduler", "kube-scheduler.yaml", Scheduler)...)
	cs = append(cs, manifestPerm("1.1.7", "etcd", "etcd.yaml", Etcd)...)
	cni := fileSpec{paths: cniFiles, optional: true}
	etcdData := fileSpec{comp: Etcd, paths: flagPaths(Etcd, "data-dir")}
	admin := fileSpec{paths: fixed("/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf"), optional: true}
	schConf := fileSpec{comp: Scheduler, paths: flagPaths(Scheduler, "kubeconfig", "/etc/kubernetes/scheduler.conf")}
	cmConf := fileSpec{comp: ControllerManager, paths: flagPaths(ControllerManager, "kubeconfig", "/etc/kubernetes/controller-manager.conf")}
	pki := "/etc/kubernetes/pki"
	cs = append(cs,
		mk("1.1.9", TargetMaster, low, true, "Ensure that the Container Network Interface file permissions are set to 600 or more restrictive", chmod("600"), fileCheck(cni, maxMode(m600))),
		mk("1.1.10", TargetMaster, low, true, "Ensure that the Container Network Interface file ownership is set to root:root", chown("root:root"), fileCheck(cni, ownedBy("root", "root"))),
		mk("1.1.11", TargetMaster, high, false, "Ensure that the etcd data directory permissions are set to 700 or more restrictive", "Run `chmod 700 <data-dir>` with the directory of etcd's --data-dir.", fileCheck(etcdData, maxMode(m700))),
		mk("1.1.12", TargetMaster, medium, false, "Ensure that the etcd data directory ownership is set to etcd:etcd", "Run `chown etcd:etcd <data-dir>` with the directory of etcd's --data-dir (create the etcd user first).", fileCheck(etcdData, ownedBy("etcd", "etcd"))),
		mk("1.1.13", TargetMaster, high, false, "Ensure that the default administrative credential file permissions are set to 600", chmod("600"), fileCheck(admin, maxMode(m600))),
		mk("1.1.14", TargetMaster, high, false, "Ensure that the default administrative credential file ownership is set to root:root", chown("root:root"), fileCheck(admin, ownedBy("root", "root"))),
		mk("1.1.15", TargetMaster, medium, false, "Ensure that the scheduler.conf file permissions are set to 600 or more restrictive", chmod("600"), fileCheck(schConf, maxMode(m600))),
		mk("1.1.16", TargetMaster, medium, false, "Ensure that the scheduler.conf file ownership is set to root:root", chown("root:root"), fileCheck(schConf, ownedBy("root", "root"))),
		mk("1.1.17", TargetMaster, medium, false, "Ensure that the controller-manager.conf file permissions are set to 600 or more restrictive", chmod("600"), fileCheck(cmConf, maxMode(m600))),
		mk("1.1.18", TargetMaster, medium, false, "Ensure that the controller-manager.conf file ownership is set to root:root", chown("root:root"), fileCheck(cmConf, ownedBy("root", "root"))),
		mk("1.1.19", TargetMaster, high, false, "Ensure that the Kubernetes PKI directory and file ownership is set to root:root", "Run `chown -R root:root /etc/kubernetes/pki/`.", treeCheck(pki, nil, func(a *auditor, _ string, fi FileInfo) (bool, string) {
			return fi.UID == 0 && fi.GID == 0, fmt.Sprintf("owned by %d:%d", fi.UID, fi.GID)
		})),
		mk("1.1.20", TargetMaster, medium, true, "Ensure that the Kubernetes PKI certificate file permissions are set to 600 or more restrictive", "Run `chmod -R 600 /etc/kubernetes/pki/*.crt`.", treeCheck(pki, func(n string) bool { return strings.HasSuffix(n, ".crt") }, permAtMost(m600))),
		mk("1.1.21", TargetMaster, high, true, "Ensure that the Kubernetes PKI key file permissions are set to 600", "Run `chmod -R 600 /etc/kubernetes/pki/*.key`.", treeCheck(pki, func(n string) bool { return strings.HasSuffix(n, ".key") }, permAtMost(m600))),

		mk("1.2.1", TargetMaster, critical, true, "Ensure that the --anonymous-auth argument is set to false", apiManifest+"set `--anonymous-auth=false` (or restrict anonymous requests to health endpoints with an AuthenticationConfiguration).", each(APIServer, anonymousCheck)),
		mk("1.2.2", TargetMaster, high, false, "Ensure that the --token-auth-file parameter is not set", apiManifest+"remove `--token-auth-file`; use another authentication mechanism.", each(APIServer, func(_ *auditor, in *Instance) outcome {
			v := in.Get("token-auth-file")
			if v.Set() {
				return outcome{control.StatusFail, "static token file in use: " + v.Value, v.Evidence()}
			}
			return outcome{control.StatusPass, "--token-auth-file is not set", v.Evidence()}
		})),
		mk("1.2.3", TargetMaster, medium, true, "Ensure that the --DenyServiceExternalIPs is set", apiManifest+"add `DenyServiceExternalIPs` to `--enable-admission-plugins` unless Services need spec.externalIPs.", pluginCheck("DenyServiceExternalIPs", true, control.StatusManual)),
		mk("1.2.4", TargetMaster, high, false, "Ensure that the --kubelet-client-certificate and --kubelet-client-key arguments are set as appropriate", apiManifest+"set `--kubelet-client-certificate` and `--kubelet-client-key` to the API server's kubelet client certificate and key.", allSet(APIServer, "kubelet-client-certificate", "kubelet-client-key")),
		mk("1.2.5", TargetMaster, high, false, "Ensure that the --kubelet-certificate-authority argument is set as appropriate", apiManifest+"set `--kubelet-certificate-authority` to the CA that signs the kubelets' serving certificates.", allSet(APIServer, "kubelet-certificate-authority")),
		mk("1.2.6", TargetMaster, critical, false, "Ensure that the --authorization-mode argument is not set to AlwaysAllow", apiManifest+"set `--authorization-mode=Node,RBAC`.", authzCheck(func(v string) bool { return !listHas(v, "AlwaysAllow") }, "not AlwaysAllow")),
		mk("1.2.7", TargetMaster, high, false, "Ensure that the --authorization-mode argument includes Node", apiManifest+"set `--authorization-mode` to a list including Node, e.g. `Node,RBAC`.", authzCheck(func(v string) bool { return listHas(v, "Node") }, "a list including Node")),
		mk("1.2.8", TargetMaster, high, false, "Ensure that the --authorization-mode argument includes RBAC", apiManifest+"set `--authorization-mode` to a list including RBAC, e.g. `Node,RBAC`.", authzCheck(func(v string) bool { return listHas(v, "RBAC") }, "a list including RBAC")),
		mk("1.2.9", TargetMaster, low, true, "Ensure that the admission control plugin EventRateLimit is set", apiManifest+"add `EventRateLimit` to `--enable-admission-plugins` and set `--admission-control-config-file` with its limits.", pluginCheck("EventRateLimit", true, control.StatusManual)),
		mk("1.2.10", TargetMaster, high, false, "Ensure that the admission control plugin AlwaysAdmit is not set", apiManifest+"remove `AlwaysAdmit` from `--enable-admission-plugins`.", pluginCheck("AlwaysAdmit", false, control.StatusFail)),
		mk("1.2.11", TargetMaster, medium, true, "Ensure that the admission control plugin AlwaysPullImages is set", apiManifest+"add `AlwaysPullImages` to `--enable-admission-plugins` (on multi-tenant clusters).", pluginCheck("AlwaysPullImages", true, control.StatusManual)),
		mk("1.2.12", TargetMaster, medium, false, "Ensure that the admission control plugin ServiceAccount is set", apiManifest+"remove `ServiceAccount` from `--disable-admission-plugins`.", pluginCheck("ServiceAccount", true, control.StatusFail)),
		mk("1.2.13", TargetMaster, medium, false, "Ensure that the admission control plugin NamespaceLifecycle is set", apiManifest+"remove `NamespaceLifecycle` from `--disable-admission-plugins`.", pluginCheck("NamespaceLifecycle", true, control.StatusFail)),
		mk("1.2.14", TargetMaster, high, false, "Ensure that the admission control plugin NodeRestriction is set", apiManifest+"add `NodeRestriction` to `--enable-admission-plugins` (with `--authorization-mode` including Node).", pluginCheck("NodeRestriction", true, control.StatusFail)),
		mk("1.2.15", TargetMaster, low, false, "Ensure that the --profiling argument is set to false", apiManifest+"set `--profiling=false`.", flagIs(APIServer, "profiling", "false", equals("false"))),
		mk("1.2.16", TargetMaster, high, false, "Ensure that the --audit-log-path argument is set", apiManifest+"set `--audit-log-path` to a file the API server writes its audit log to, e.g. /var/log/apiserver/audit.log.", allSet(APIServer, "audit-log-path")),
		mk("1.2.17", TargetMaster, low, false, "Ensure that the --audit-log-maxage argument is set to 30 or as appropriate", apiManifest+"set `--audit-log-maxage=30` or as appropriate.", flagIs(APIServer, "audit-log-maxage", "30 or more", atLeast(30))),
		mk("1.2.18", TargetMaster, low, false, "Ensure that the --audit-log-maxbackup argument is set to 10 or as appropriate", apiManifest+"set `--audit-log-maxbackup=10` or as appropriate.", flagIs(APIServer, "audit-log-maxbackup", "10 or more", atLeast(10))),
		mk("1.2.19", TargetMaster, low, false, "Ensure that the --audit-log-maxsize argument is set to 100 or as appropriate", apiManifest+"set `--audit-log-maxsize=100` or as appropriate.", flagIs(APIServer, "audit-log-maxsize", "100 or more", atLeast(100))),
		mk("1.2.20", TargetMaster, low, true, "Ensure that the --request-timeout argument is set as appropriate", apiManifest+"set `--request-timeout` only where needed, e.g. `--request-timeout=300s`.", manual(APIServer, "request-timeout", "review whether it suits the cluster")),
		mk("1.2.21", TargetMaster, medium, false, "Ensure that the --service-account-lookup argument is set to true", apiManifest+"set `--service-account-lookup=true` or remove the flag (true by default).", flagIs(APIServer, "service-account-lookup", "true", equals("true"))),
		mk("1.2.22", TargetMaster, medium, false, "Ensure that the --service-account-key-file argument is set as appropriate", apiManifest+"set `--service-account-key-file` to the public key of the service account token signer.", allSet(APIServer, "service-account-key-file")),
		mk("1.2.23", TargetMaster, high, false, "Ensure that the --etcd-certfile and --etcd-keyfile arguments are set as appropriate", apiManifest+"set `--etcd-certfile` and `--etcd-keyfile` to the API server's etcd client certificate and key.", allSet(APIServer, "etcd-certfile", "etcd-keyfile")),
		mk("1.2.24", TargetMaster, high, false, "Ensure that the --tls-cert-file and --tls-private-key-file arguments are set as appropriate", apiManifest+"set `--tls-cert-file` and `--tls-private-key-file`.", allSet(APIServer, "tls-cert-file", "tls-private-key-file")),
		mk("1.2.25", TargetMaster, high, false, "Ensure that the --client-ca-file argument is set as appropriate", apiManifest+"set `--client-ca-file` to the client CA file.", allSet(APIServer, "client-ca-file")),
		mk("1.2.26", TargetMaster, high, false, "Ensure that the --etcd-cafile argument is set as appropriate", apiManifest+"set `--etcd-cafile` to the CA of etcd's serving certificate.", allSet(APIServer, "etcd-cafile")),
		mk("1.2.27", TargetMaster, high, true, "Ensure that the --encryption-provider-config argument is set as appropriate", "Write an EncryptionConfiguration file and set `--encryption-provider-config` to it in /etc/kubernetes/manifests/kube-apiserver.yaml.", each(APIServer, func(_ *auditor, in *Instance) outcome {
			v := in.Get("encryption-provider-config")
			if v.Set() && v.Value != "" {
				return outcome{control.StatusPass, "--encryption-provider-config is " + v.Value, v.Evidence()}
			}
			return outcome{control.StatusFail, "--encryption-provider-config is not set", v.Evidence()}
		})),
		mk("1.2.28", TargetMaster, high, true, "Ensure that encryption providers are appropriately configured", "In the EncryptionConfiguration, make `aescbc`, `aesgcm`, `secretbox` or `kms` the first provider for `secrets`.", each(APIServer, encryptionCheck)),
		mk("1.2.29", TargetMaster, medium, true, "Ensure that the API Server only makes use of Strong Cryptographic Ciphers", apiManifest+"set `--tls-cipher-suites` to strong AEAD suites only, e.g. `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`.", cipherCheck(APIServer)),

		mk("1.3.1", TargetMaster, low, true, "Ensure that the --terminated-pod-gc-threshold argument is set as appropriate", cmManifest+"set `--terminated-pod-gc-threshold` to a suitable value, e.g. `--terminated-pod-gc-threshold=10`.", manual(ControllerManager, "terminated-pod-gc-threshold", "review whether it suits the cluster")),
		mk("1.3.2", TargetMaster, low, false, "Ensure that the --profiling argument is set to false", cmManifest+"set `--profiling=false`.", flagIs(ControllerManager, "profiling", "false", equals("false"))),
		mk("1.3.3", TargetMaster, medium, false, "Ensure that the --use-service-account-credentials argument is set to true", cmManifest+"set `--use-service-account-credentials=true`.", flagIs(ControllerManager, "use-service-account-credentials", "true", equals("true"))),
		mk("1.3.4", TargetMaster, high, false, "Ensure that the --service-account-private-key-file argument is set as appropriate", cmManifest+"set `--service-account-private-key-file` to the service account signing key.", allSet(ControllerManager, "service-account-private-key-file")),
		mk("1.3.5", TargetMaster, medium, false, "Ensure that the --root-ca-file argument is set as appropriate", cmManifest+"set `--root-ca-file` to the cluster CA certificate.", allSet(ControllerManager, "root-ca-file")),
		mk("1.3.6", TargetMaster, medium, false, "Ensure that the RotateKubeletServerCertificate argument is set to true", cmManifest+"remove `RotateKubeletServerCertificate=false` from `--feature-gates`.", each(ControllerManager, func(_ *auditor, in *Instance) outcome {
			return judge(in.FeatureGate("RotateKubeletServerCertificate", true), "feature gate RotateKubeletServerCertificate", "true", equals("true"))
		})),
		mk("1.3.7", TargetMaster, medium, false, "Ensure that the --bind-address argument is set to 127.0.0.1", cmManifest+"set `--bind-address=127.0.0.1`.", flagIs(ControllerManager, "bind-address", "127.0.0.1", loopback)),
		mk("1.4.1", TargetMaster, low, false, "Ensure that the --profiling argument is set to false", schManifest+"set `--profiling=false`.", flagIs(Scheduler, "profiling", "false", equals("false"))),
		mk("1.4.2", TargetMaster, medium, false, "Ensure that the --bind-address argument is set to 127.0.0.1", schManifest+"set `--bind-address=127.0.0.1`.", flagIs(Scheduler, "bind-address", "127.0.0.1", loopback)),

		mk("2.1", TargetEtcd, high, false, "Ensure that the --cert-file and --key-file arguments are set as appropriate", etcdConf+"set `--cert-file` and `--key-file` to etcd's serving certificate and key.", allSet(Etcd, "cert-file", "key-file")),
		mk("2.2", TargetEtcd, critical, false, "Ensure that the --client-cert-auth argument is set to true", etcdConf+"set `--client-cert-auth=true` (with `--trusted-ca-file`).", flagIs(Etcd, "client-cert-auth", "true", equals("true"))),
		mk("2.3", TargetEtcd, high, false, "Ensure that the --auto-tls argument is not set to true", etcdConf+"remove `--auto-tls` or set it to false.", flagIs(Etcd, "auto-tls", "not true", notEquals("true"))),
		mk("2.4", TargetEtcd, high, false, "Ensure that the --peer-cert-file and --peer-key-file arguments are set as appropriate", etcdConf+"set `--peer-cert-file` and `--peer-key-file` (for clusters of several etcd members).", allSet(Etcd, "peer-cert-file", "peer-key-file")),
		mk("2.5", TargetEtcd, high, false, "Ensure that the --peer-client-cert-auth argument is set to true", etcdConf+"set `--peer-client-cert-auth=true`.", flagIs(Etcd, "peer-client-cert-auth", "true", equals("true"))),
		mk("2.6", TargetEtcd, medium, false, "Ensure that the --peer-auto-tls argument is not set to true", etcdConf+"remove `--peer-auto-tls` or set it to false.", flagIs(Etcd, "peer-auto-tls", "not true", notEquals("true"))),
		mk("2.7", TargetEtcd, medium, true, "Ensure that a unique Certificate Authority is used for etcd", etcdConf+"set `--trusted-ca-file` to a CA used for etcd only, not the cluster CA of the API server's `--client-ca-file`.", each(Etcd, uniqueCA)),

		mk("3.1.1", TargetControlPlane, medium, true, "Client certificate authentication should not be used for users", "Use an external identity provider (OIDC, webhook) for users; keep client certificates for components.", manual(APIServer, "", "review the identities that hold client certificates")),
		mk("3.1.2", TargetControlPlane, medium, true, "Service account token authentication should not be used for users", "Use an external identity provider for users; keep service account tokens for workloads.", manual(APIServer, "", "review who uses service account tokens")),
		mk("3.1.3", TargetControlPlane, medium, true, "Bootstrap token authentication should not be used for users", "Use an external identity provider for users; keep bootstrap tokens for node join.", manual(APIServer, "", "review the bootstrap tokens in kube-system")),
		mk("3.2.1", TargetControlPlane, high, true, "Ensure that a minimal audit policy is created", apiManifest+"set `--audit-policy-file` to an audit Policy (audit.k8s.io/v1) with at least one rule.", each(APIServer, func(a *auditor, in *Instance) outcome {
			p, ev, o := auditPolicy(a, in)
			if o != nil {
				return *o
			}
			if len(p.Rules) == 0 {
				return outcome{control.StatusFail, "the audit policy has no rules", ev}
			}
			return outcome{control.StatusPass, fmt.Sprintf("audit policy with %d rules", len(p.Rules)), ev}
		})),
		mk("3.2.2", TargetControlPlane, medium, true, "Ensure that the audit policy covers key security concerns", "Log Secret, ConfigMap and TokenReview access at the Metadata level (never Request or RequestResponse) and pods/exec, pods/attach, pods/portforward, pods/proxy and services/proxy at Metadata or more.", each(APIServer, func(a *auditor, in *Instance) outcome {
			p, ev, o := auditPolicy(a, in)
			if o != nil {
				if o.status == control.StatusFail {
					o.status = control.StatusWarn
				}
				return *o
			}
			if gaps := PolicyGaps(p); len(gaps) > 0 {
				return outcome{control.StatusWarn, "audit policy gaps: " + strings.Join(gaps, "; "), ev}
			}
			return outcome{control.StatusPass, "the audit policy covers Secret, ConfigMap, TokenReview and pod exec/attach/port-forward/proxy access", ev}
		})),
	)
	kubeletCfg := fileSpec{comp: Kubelet, paths: func(a *auditor) []string {
		var out []string
		for _, in := range a.procs[Kubelet] {
			if p := in.ConfigPath(); p != "" {
				out = append(out, p)
			}
		}
		return out
	}, optional: true}
	svc := fileSpec{comp: Kubelet, paths: fixed(kubeletServiceFiles...), optional: true}
	proxyKC := fileSpec{comp: Proxy, paths: flagPaths(Proxy, "kubeconfig"), optional: true}
	kubeletKC := fileSpec{comp: Kubelet, paths: flagPaths(Kubelet, "kubeconfig", "/etc/kubernetes/kubelet.conf")}
	clientCA := fileSpec{comp: Kubelet, paths: flagPaths(Kubelet, "client-ca-file")}
	cs = append(cs,
		mk("4.1.1", TargetNode, medium, false, "Ensure that the kubelet service file permissions are set to 600 or more restrictive", chmod("600"), fileCheck(svc, maxMode(m600))),
		mk("4.1.2", TargetNode, medium, false, "Ensure that the kubelet service file ownership is set to root:root", chown("root:root"), fileCheck(svc, ownedBy("root", "root"))),
		mk("4.1.3", TargetNode, medium, true, "If proxy kubeconfig file exists ensure permissions are set to 600 or more restrictive", chmod("600"), fileCheck(proxyKC, maxMode(m600))),
		mk("4.1.4", TargetNode, medium, true, "If proxy kubeconfig file exists ensure ownership is set to root:root", chown("root:root"), fileCheck(proxyKC, ownedBy("root", "root"))),
		mk("4.1.5", TargetNode, high, false, "Ensure that the --kubeconfig kubelet.conf file permissions are set to 600 or more restrictive", chmod("600"), fileCheck(kubeletKC, maxMode(m600))),
		mk("4.1.6", TargetNode, high, false, "Ensure that the --kubeconfig kubelet.conf file ownership is set to root:root", chown("root:root"), fileCheck(kubeletKC, ownedBy("root", "root"))),
		mk("4.1.7", TargetNode, medium, true, "Ensure that the certificate authorities file permissions are set to 600 or more restrictive", chmod("600"), fileCheck(clientCA, maxMode(m600))),
		mk("4.1.8", TargetNode, medium, true, "Ensure that the client certificate authorities file ownership is set to root:root", chown("root:root"), fileCheck(clientCA, ownedBy("root", "root"))),
		mk("4.1.9", TargetNode, medium, false, "If the kubelet config.yaml configuration file is being used validate permissions set to 600 or more restrictive", chmod("600"), fileCheck(kubeletCfg, maxMode(m600))),
		mk("4.1.10", TargetNode, medium, false, "If the kubelet config.yaml configuration file is being used validate file ownership is set to root:root", chown("root:root"), fileCheck(kubeletCfg, ownedBy("root", "root"))),

		mk("4.2.1", TargetNode, critical, false, "Ensure that the --anonymous-auth argument is set to false", kubeletConf+"set `authentication.anonymous.enabled: false` (flag `--anonymous-auth=false`).", flagIs(Kubelet, "anonymous-auth", "false", equals("false"))),
		mk("4.2.2", TargetNode, critical, false, "Ensure that the --authorization-mode argument is not set to AlwaysAllow", kubeletConf+"set `authorization.mode: Webhook` (flag `--authorization-mode=Webhook`).", flagIs(Kubelet, "authorization-mode", "Webhook", notEquals("AlwaysAllow"))),
		mk("4.2.3", TargetNode, high, false, "Ensure that the --client-ca-file argument is set as appropriate", kubeletConf+"set `authentication.x509.clientCAFile` to the cluster CA (flag `--client-ca-file`).", allSet(Kubelet, "client-ca-file")),
		mk("4.2.4", TargetNode, high, true, "Verify that the --read-only-port argument is set to 0", kubeletConf+"set `readOnlyPort: 0` (flag `--read-only-port=0`).", flagIs(Kubelet, "read-only-port", "0", equals("0"))),
		mk("4.2.5", TargetNode, medium, true, "Ensure that the --streaming-connection-idle-timeout argument is not set to 0", kubeletConf+"set `streamingConnectionIdleTimeout: 4h0m0s` or another non-zero value.", flagIs(Kubelet, "streaming-connection-idle-timeout", "a non-zero duration", nonZeroDuration)),
		mk("4.2.6", TargetNode, medium, false, "Ensure that the --make-iptables-util-chains argument is set to true", kubeletConf+"set `makeIPTablesUtilChains: true` or remove `--make-iptables-util-chains=false`.", flagIs(Kubelet, "make-iptables-util-chains", "true", equals("true"))),
		mk("4.2.7", TargetNode, low, true, "Ensure that the --hostname-override argument is not set", kubeletConf+"remove `--hostname-override` unless the cloud provider needs it.", each(Kubelet, func(_ *auditor, in *Instance) outcome {
			v := in.Get("hostname-override")
			if v.Set() {
				return outcome{control.StatusWarn, "--hostname-override is " + v.Value + ": check that the cloud provider needs it", v.Evidence()}
			}
			return outcome{control.StatusPass, "--hostname-override is not set", v.Evidence()}
		})),
		mk("4.2.8", TargetNode, low, true, "Ensure that the eventRecordQPS argument is set to a level which ensures appropriate event capture", kubeletConf+"set `eventRecordQPS` to a value that captures the events you need (0 means unlimited).", manual(Kubelet, "event-qps", "review whether it captures the events you need")),
		mk("4.2.9", TargetNode, medium, true, "Ensure that the --tls-cert-file and --tls-private-key-file arguments are set as appropriate", kubeletConf+"set `tlsCertFile` and `tlsPrivateKeyFile`, or `serverTLSBootstrap: true` to have the serving certificate signed by the cluster.", each(Kubelet, kubeletServing)),
		mk("4.2.10", TargetNode, medium, false, "Ensure that the --rotate-certificates argument is not set to false", kubeletConf+"set `rotateCertificates: true` (flag `--rotate-certificates`).", flagIs(Kubelet, "rotate-certificates", "true", equals("true"))),
		mk("4.2.11", TargetNode, medium, true, "Verify that the RotateKubeletServerCertificate argument is set to true", kubeletConf+"remove `RotateKubeletServerCertificate: false` from `featureGates` and set `serverTLSBootstrap: true`.", each(Kubelet, func(_ *auditor, in *Instance) outcome {
			return judge(in.FeatureGate("RotateKubeletServerCertificate", true), "feature gate RotateKubeletServerCertificate", "true", equals("true"))
		})),
		mk("4.2.12", TargetNode, medium, true, "Ensure that the Kubelet only makes use of Strong Cryptographic Ciphers", kubeletConf+"set `tlsCipherSuites` to strong AEAD suites only.", cipherCheck(Kubelet)),
		mk("4.2.13", TargetNode, medium, true, "Ensure that a limit is set on pod PIDs", kubeletConf+"set `podPidsLimit` to a positive value suited to the workloads (flag `--pod-max-pids`).", each(Kubelet, func(_ *auditor, in *Instance) outcome {
			o := judge(in.Get("pod-max-pids"), "--pod-max-pids", "a positive limit", func(v string) bool { n, err := strconv.Atoi(v); return err == nil && n > 0 })
			if o.status == control.StatusFail {
				o.status = control.StatusWarn
			}
			return o
		})),
		mk("4.3.1", TargetNode, medium, false, "Ensure that the kube-proxy metrics service is bound to localhost", "Set `metricsBindAddress: 127.0.0.1:10249` in the kube-proxy config file (flag `--metrics-bind-address=127.0.0.1:10249`).", flagIs(Proxy, "metrics-bind-address", "a loopback address", loopback)),
	)
	return cs
}

func permAtMost(max fs.FileMode) func(*auditor, string, FileInfo) (bool, string) {
	return func(_ *auditor, _ string, fi FileInfo) (bool, string) {
		return fi.Mode.Perm()&^max == 0, fmt.Sprintf("has permissions %04o", uint32(fi.Mode.Perm()))
	}
}

func atLeast(n int) func(string) bool {
	return func(v string) bool { x, err := strconv.Atoi(strings.TrimSpace(v)); return err == nil && x >= n }
}

func nonZeroDuration(v string) bool {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		n, nerr := strconv.Atoi(strings.TrimSpace(v))
		return nerr == nil && n != 0
	}
	return d != 0
}

// cniFiles are the files of /etc/cni/net.d.
func cniFiles(a *auditor) []string {
	ents, err := a.host.ReadDir("/etc/cni/net.d")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			out = append(out, path.Join("/etc/cni/net.d", e.Name()))
		}
	}
	return out
}

// uniqueCA compares etcd's --trusted-ca-file with the API servers'
// --client-ca-file: the same file means etcd trusts every cluster client.
func uniqueCA(a *auditor, in *Instance) outcome {
	v := in.Get("trusted-ca-file")
	if v.Err != "" || !v.Set() || v.Value == "" {
		return outcome{control.StatusManual, "etcd has no --trusted-ca-file to compare; review which CA signs etcd client certificates", v.Evidence()}
	}
	for _, api := range a.procs[APIServer] {
		if ca, ok := api.Last("client-ca-file"); ok && path.Clean(ca) == path.Clean(v.Value) {
			return outcome{control.StatusFail, "etcd trusts the API server's client CA " + ca, v.Evidence()}
		}
	}
	if len(a.procs[APIServer]) == 0 {
		return outcome{control.StatusManual, "no API server here to compare with; check that " + v.Value + " is used for etcd only", v.Evidence()}
	}
	return outcome{control.StatusPass, "etcd's CA differs from the API server's client CA", v.Evidence()}
}

// kubeletServing passes when the kubelet has a serving certificate or
// bootstraps one; otherwise it serves a self-signed one.
func kubeletServing(_ *auditor, in *Instance) outcome {
	cert, key := in.Get("tls-cert-file"), in.Get("tls-private-key-file")
	if cert.Err != "" {
		return outcome{control.StatusWarn, "could not be resolved: " + cert.Err, &report.Evidence{Origin: OriginAbsent}}
	}
	if cert.Set() && key.Set() && cert.Value != "" && key.Value != "" {
		return outcome{control.StatusPass, "serving certificate " + cert.Value, cert.Evidence()}
	}
	if boot := in.Get("rotate-server-certificates"); truthy(boot.Value) {
		return outcome{control.StatusPass, "serving certificate bootstrapped (serverTLSBootstrap)", boot.Evidence()}
	}
	return outcome{control.StatusWarn, "no serving certificate and no serverTLSBootstrap: the kubelet serves a self-signed certificate", cert.Evidence()}
}
