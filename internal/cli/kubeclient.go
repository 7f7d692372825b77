package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Client timeouts. Every request is bounded so that an unreachable or hung
// API server ends the command with an error instead of hanging it.
const (
	// RequestTimeout bounds one API request (one page of a LIST).
	RequestTimeout = 60 * time.Second
	// ProbeTimeout bounds the first request that checks the server answers.
	ProbeTimeout = 10 * time.Second
	// clientQPS and clientBurst let parallel LISTs through client-go's
	// client-side rate limiter; the server's priority and fairness still
	// applies.
	clientQPS   = 50
	clientBurst = 100
)

// InClusterContext is the context name reported for the in-cluster
// configuration (a Pod's service account).
const InClusterContext = "in-cluster"

// RESTConfig builds the client configuration of a cluster command.
//
// kubeconfig names a kubeconfig file; when empty the usual client-go loading
// rules apply (the KUBECONFIG environment variable, then ~/.kube/config) and,
// when no kubeconfig exists at all, the in-cluster configuration of a Pod
// (service account token and KUBERNETES_SERVICE_HOST). contextName selects a
// kubeconfig context; empty means the current context.
//
// It returns the configuration with Rampart's user agent, rate limits and
// request timeout set, and the name of the context used ("in-cluster" for
// the in-cluster configuration). The configuration is meant to be shared by
// every client of one command, so that they share one HTTP transport.
func RESTConfig(kubeconfig, contextName string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		if _, err := os.Stat(kubeconfig); err != nil {
			return nil, "", fmt.Errorf("--kubeconfig: %w", err)
		}
		rules.ExplicitPath = kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: contextName}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading kubeconfig: %w", err)
	}
	var cfg *rest.Config
	name := firstNonEmpty(contextName, raw.CurrentContext)
	switch {
	case len(raw.Contexts) == 0 && kubeconfig == "" && contextName == "":
		cfg, err = rest.InClusterConfig()
		if err != nil {
			if errors.Is(err, rest.ErrNotInCluster) {
				return nil, "", errors.New("no kubeconfig found (set --kubeconfig or KUBECONFIG) and not running in a cluster")
			}
			return nil, "", fmt.Errorf("in-cluster configuration: %w", err)
		}
		name = InClusterContext
	default:
		if contextName != "" {
			if _, ok := raw.Contexts[contextName]; !ok {
				return nil, "", fmt.Errorf("--context: no context %q in the kubeconfig", contextName)
			}
		}
		cfg, err = loader.ClientConfig()
		if err != nil {
			if clientcmd.IsEmptyConfig(err) {
				return nil, "", errors.New("the kubeconfig has no usable context (set --kubeconfig or --context)")
			}
			return nil, "", fmt.Errorf("kubeconfig: %w", err)
		}
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "rampart/" + Version
	cfg.Timeout = RequestTimeout
	cfg.QPS = clientQPS
	cfg.Burst = clientBurst
	return cfg, name, nil
}
