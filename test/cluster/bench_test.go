package cluster

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/rampart-dev/rampart/internal/cli"
	"github.com/rampart-dev/rampart/internal/load/cluster"
	"github.com/rampart-dev/rampart/internal/testenv"
)

// Scale of BenchmarkClusterScan: 50 namespaces of 25 Deployments, 25
// headless Services (the test API server has 256 service IPs), 20 Roles, 20 RoleBindings, 10 NetworkPolicies (5,050 objects with
// the namespaces).
const (
	benchNamespaces = 50
	benchPerKind    = 25
)

// BenchmarkClusterScan loads 5,000+ objects into the real test API server,
// then times the bare paginated LISTs of every kind the scanner reads and a
// full `rampart scan --cluster -o json` run as a separate process (wall time
// and peak RSS from rusage). It reports whether the goals hold: scan at most
// 1.5× the LIST time and peak RSS under 300 MiB. Run it with make
// bench-cluster.
func BenchmarkClusterScan(b *testing.B) {
	env := testenv.Start(b)
	cfg := rest.CopyConfig(env.Admin.Config)
	cfg.QPS, cfg.Burst = 2000, 4000
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	n := populate(b, dyn)
	b.Logf("created %d objects in %s", n, time.Since(start).Round(time.Millisecond))
	bin := b.TempDir() + "/rampart"
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/rampart").CombinedOutput(); err != nil {
		b.Fatalf("building rampart: %v\n%s", err, out)
	}
	kc := env.Admin.KubeconfigFile(b)
	// The API server shares the machine's cores with the scanner and the
	// bare LISTs, so single runs are noisy: the goals are judged on the
	// medians over all iterations.
	var ratios, rsses, listCPUs, scanCPUs []float64
	for b.Loop() {
		// The bare LISTs start as cold as the scanner does: a fresh client
		// built from the same kubeconfig with the scanner's own settings.
		listCfg, _, err := cli.RESTConfig(kc, "")
		if err != nil {
			b.Fatal(err)
		}
		listDyn, err := dynamic.NewForConfig(listCfg)
		if err != nil {
			b.Fatal(err)
		}
		var before, after syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
			b.Fatal(err)
		}
		listTime, listed := bareList(b, listDyn)
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
			b.Fatal(err)
		}
		listCPU := cpuTime(&after) - cpuTime(&before)
		t0 := time.Now()
		cmd := exec.Command(bin, "scan", "--cluster", "--kubeconfig", kc, "-o", "json", "--output", b.TempDir()+"/report.json")
		out, err := cmd.CombinedOutput()
		scanTime := time.Since(t0)
		if code := cmd.ProcessState.ExitCode(); code != 1 && err != nil {
			b.Fatalf("scan exit %d: %s", code, out)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		rss := ru.Maxrss * 1024 // Linux: KiB
		scanCPU := cpuTime(ru)
		ratio := float64(scanTime) / float64(listTime)
		b.ReportMetric(float64(listed), "objects")
		b.ReportMetric(float64(listTime.Milliseconds()), "list-ms")
		b.ReportMetric(float64(scanTime.Milliseconds()), "scan-ms")
		b.ReportMetric(ratio, "scan/list")
		b.ReportMetric(float64(rss)/(1<<20), "peak-MiB")
		b.ReportMetric(float64(listCPU.Milliseconds()), "list-cpu-ms")
		b.ReportMetric(float64(scanCPU.Milliseconds()), "scan-cpu-ms")
		fmt.Printf("cluster scan: %d objects listed; bare LIST %s (client CPU %s); scan %s (%.2fx LIST; process CPU user+sys %s); peak RSS %.1f MiB\n",
			listed, listTime.Round(time.Millisecond), listCPU.Round(time.Millisecond), scanTime.Round(time.Millisecond), ratio, scanCPU.Round(time.Millisecond), float64(rss)/(1<<20))
		ratios, rsses = append(ratios, ratio), append(rsses, float64(rss)/(1<<20))
		listCPUs, scanCPUs = append(listCPUs, float64(listCPU.Milliseconds())), append(scanCPUs, float64(scanCPU.Milliseconds()))
	}
	ratio, rss := median(ratios), slices.Max(rsses)
	fmt.Printf("cluster scan over %d runs: median scan/LIST %.2fx (goal <= 1.5x: %v); max peak RSS %.1f MiB (goal < 300 MiB: %v)\n",
		len(ratios), ratio, ratio <= 1.5, rss, rss < 300)
	fmt.Printf("CPU (user+sys) medians: bare LIST client %.0f ms (in this process: dynamic client requests and decoding); scan process %.0f ms (everything: start-up, LIST, decoding, controls, report)\n",
		median(listCPUs), median(scanCPUs))
}

// cpuTime is the user plus system CPU time of ru.
func cpuTime(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// median returns the median of xs (the mean of the middle two when even).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// bareList runs the paginated LISTs of every kind the scanner reads, in
// parallel like the scanner, discarding the items.
func bareList(b *testing.B, dyn dynamic.Interface) (time.Duration, int) {
	t0 := time.Now()
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	sem := make(chan struct{}, cluster.DefaultParallelism)
	for _, r := range cluster.Resources {
		if r.Optional {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ri := dyn.Resource(schema.GroupVersionResource{Group: r.Group, Version: r.Versions[0], Resource: r.Resource})
			lo := metav1.ListOptions{Limit: cluster.DefaultPageSize}
			for {
				l, err := ri.List(context.Background(), lo)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				total += len(l.Items)
				mu.Unlock()
				if lo.Continue = l.GetContinue(); lo.Continue == "" {
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(t0), total
}

// populate creates the benchmark objects with 32 parallel writers.
func populate(b *testing.B, dyn dynamic.Interface) int {
	type item struct {
		gvr schema.GroupVersionResource
		obj *unstructured.Unstructured
	}
	items := make(chan item, 256)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	created := 0
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range items {
				ri := dyn.Resource(it.gvr)
				var err error
				if ns := it.obj.GetNamespace(); ns != "" {
					_, err = ri.Namespace(ns).Create(context.Background(), it.obj, metav1.CreateOptions{})
				} else {
					_, err = ri.Create(context.Background(), it.obj, metav1.CreateOptions{})
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				created++
				mu.Unlock()
			}
		}()
	}
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	for i := range benchNamespaces {
		ns := fmt.Sprintf("bench-%02d", i)
		if _, err := dyn.Resource(nsGVR).Create(context.Background(), u("v1", "Namespace", "", ns, nil), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		created++
		for j := range benchPerKind {
			name := fmt.Sprintf("app-%02d", j)
			labels := map[string]any{"app": name}
			items <- item{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, u("apps/v1", "Deployment", ns, name, map[string]any{"spec": map[string]any{
				"selector": map[string]any{"matchLabels": labels},
				"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": podSpec(j%5 == 0)},
			}})}
			items <- item{schema.GroupVersionResource{Version: "v1", Resource: "services"}, u("v1", "Service", ns, name, map[string]any{"spec": map[string]any{"clusterIP": "None", "selector": labels, "ports": []any{map[string]any{"port": int64(80)}}}})}
			if j < 20 {
				items <- item{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}, u("rbac.authorization.k8s.io/v1", "Role", ns, name, map[string]any{"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"pods"}, "verbs": []any{"get", "list"}}}})}
				items <- item{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}, u("rbac.authorization.k8s.io/v1", "RoleBinding", ns, name, map[string]any{
					"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
					"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "default", "namespace": ns}},
				})}
			}
			if j < 10 {
				items <- item{schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}, u("networking.k8s.io/v1", "NetworkPolicy", ns, name, map[string]any{"spec": map[string]any{"podSelector": map[string]any{"matchLabels": labels}, "policyTypes": []any{"Ingress"}}})}
			}
		}
	}
	close(items)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return created
}
