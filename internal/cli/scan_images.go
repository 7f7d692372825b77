package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rampart-dev/rampart/internal/control"
	"github.com/rampart-dev/rampart/internal/k8s"
	"github.com/rampart-dev/rampart/internal/load"
	"github.com/rampart-dev/rampart/internal/oneline"
	"github.com/rampart-dev/rampart/internal/vuln"
	"github.com/rampart-dev/rampart/internal/vulndb"
)

// DefaultImageParallelism bounds the images analysed at once by
// `rampart scan --cluster --images`.
const DefaultImageParallelism = 4

// maxWorstListed bounds the vulnerabilities kept per severity for a
// finding's message.
const maxWorstListed = 3

// imageScanOptions are the flags of `rampart scan --cluster --images`.
type imageScanOptions struct {
	Enabled       bool
	DB            string
	IgnoreUnfixed bool
	IgnoreFile    string
	Platform      string
	Parallelism   int
	MaxAge        time.Duration
}

// clusterImages analyses the images a cluster runs while its objects are
// listed: each distinct image digest once, at most Parallelism at a time.
// Running pods tell the digest each container runs (status imageID); an
// image of a workload with no pod reporting one is resolved to its digest
// in the registry once the listing is done. It is the control.ImageIndex
// of the scan: (namespace, image field) → the vulnerabilities of the
// digests that image ran as.
type clusterImages struct {
	ctx      context.Context
	db       vuln.Source
	match    vuln.Options
	open     imageOptions
	keychain authn.Keychain
	sem      chan struct{}
	wg       sync.WaitGroup

	mu       sync.Mutex
	refs     map[imageKey]map[string]bool // digests each image field ran as
	byDigest map[string]*digestScan       // by digest ("sha256:…")
	errs     []load.InputError
	resolved map[string]string // image reference → digest, for images without a running pod
}

// imageKey is one image field in one namespace.
type imageKey struct{ namespace, image string }

// digestScan is the analysis of one image digest.
type digestScan struct {
	vulns *control.ImageVulns // nil when the image could not be analysed
}

// newClusterImages returns an analyser matching against db.
func newClusterImages(ctx context.Context, db vuln.Source, o imageScanOptions, m vuln.Options) *clusterImages {
	n := o.Parallelism
	if n <= 0 {
		n = DefaultImageParallelism
	}
	return &clusterImages{
		ctx:      ctx,
		db:       db,
		match:    m,
		open:     imageOptions{Platform: o.Platform},
		keychain: authn.DefaultKeychain,
		sem:      make(chan struct{}, n),
		refs:     map[imageKey]map[string]bool{},
		byDigest: map[string]*digestScan{},
		resolved: map[string]string{},
	}
}

// Observe records the images of one listed object (cluster.Options.Observe):
// a Pod's containers with the digests they run, which start their analysis
// at once, and the image fields of every other pod-bearing object.
func (c *clusterImages) Observe(obj *k8s.Object) {
	ps, ok := k8s.PodSpecOf(obj)
	if !ok {
		return
	}
	ns := obj.Namespace()
	running := map[string]string{} // container name → imageID
	if obj.Kind() == "Pod" {
		status := k8s.Map(obj.Content, "status")
		for _, f := range []string{"initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"} {
			for _, s := range k8s.Slice(status, f) {
				if m, ok := s.(map[string]any); ok {
					running[k8s.Str(m, "name")] = k8s.Str(m, "imageID")
				}
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ctr := range ps.Containers() {
		img := k8s.Str(ctr.Spec, "image")
		if img == "" {
			continue
		}
		key := imageKey{ns, img}
		ds := c.refs[key]
		if ds == nil {
			ds = map[string]bool{}
			c.refs[key] = ds
		}
		if ref, digest, ok := runningDigest(running[ctr.Name]); ok {
			ds[digest] = true
			c.startLocked(ref, digest)
		}
	}
}

// runningDigest turns a container status imageID into the reference to
// read the image from and its digest. imageID takes the runtime's forms:
// "registry/repo@sha256:…" (containerd, CRI-O), "docker-pullable://repo@sha256:…"
// (dockershim); a bare "sha256:…" (an image ID, not a manifest digest) or
// anything else is not usable.
func runningDigest(imageID string) (ref, digest string, ok bool) {
	id := strings.TrimPrefix(imageID, "docker-pullable://")
	repo, digest, found := strings.Cut(id, "@")
	if !found || repo == "" || !strings.HasPrefix(digest, "sha256:") {
		return "", "", false
	}
	d, err := name.NewDigest(repo + "@" + digest)
	if err != nil {
		return "", "", false
	}
	return d.String(), digest, true
}

// startLocked starts the analysis of digest, read from ref, unless it has
// started. c.mu is held.
func (c *clusterImages) startLocked(ref, digest string) {
	if _, ok := c.byDigest[digest]; ok {
		return
	}
	ds := &digestScan{}
	c.byDigest[digest] = ds
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case c.sem <- struct{}{}:
		case <-c.ctx.Done():
			c.fail(ref, c.ctx.Err())
			return
		}
		defer func() { <-c.sem }()
		iv, err := c.analyse(ref)
		if err != nil {
			c.fail(ref, err)
			return
		}
		ds.vulns = iv
	}()
}

// fail records an image that could not be analysed.
func (c *clusterImages) fail(ref string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, load.InputError{File: "image " + ref, Message: oneline.Err(err)})
}

// analyse reads the image at ref (repository@digest), matches its packages
// and summarises the vulnerabilities that are not ignored.
func (c *clusterImages) analyse(ref string) (*control.ImageVulns, error) {
	// The docker:// prefix keeps a reference from a cluster object from
	// ever being read as a local file.
	s, err := analyzeImage(c.ctx, "docker://"+ref, c.open)
	if err != nil {
		return nil, err
	}
	vs, err := vuln.MatchContext(c.ctx, c.db, s, c.match)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	iv := &control.ImageVulns{}
	for _, v := range vs {
		if v.Ignore != nil && !v.IgnoreExpired {
			continue
		}
		var n *control.VulnCount
		switch v.Severity {
		case control.SeverityCritical:
			n = &iv.Critical
		case control.SeverityHigh:
			n = &iv.High
		default:
			continue
		}
		n.N++
		if len(n.Worst) < maxWorstListed { // vs is sorted worst first
			n.Worst = append(n.Worst, describeVuln(v))
		}
	}
	return iv, nil
}

// describeVuln is "ID (CVE-…) in package version, fixed in version".
func describeVuln(v vuln.Vulnerability) string {
	var b strings.Builder
	b.WriteString(v.ID)
	for _, a := range v.Aliases {
		if strings.HasPrefix(a, "CVE-") {
			b.WriteString(" (" + a + ")")
			break
		}
	}
	fmt.Fprintf(&b, " in %s %s", v.Package.Name, v.Installed)
	if v.Fixed != "" {
		b.WriteString(", fixed in " + v.Fixed)
	} else {
		b.WriteString(", no fix yet")
	}
	return b.String()
}

// Finish resolves the images no running pod reported a digest for, waits
// for every analysis and returns the images that could not be analysed,
// in a stable order.
func (c *clusterImages) Finish() []load.InputError {
	c.mu.Lock()
	var pending []string
	seen := map[string]bool{}
	for k, ds := range c.refs {
		if len(ds) == 0 && !seen[k.image] {
			seen[k.image] = true
			pending = append(pending, k.image)
		}
	}
	c.mu.Unlock()
	slices.Sort(pending)

	var wg sync.WaitGroup
	for _, img := range pending {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case c.sem <- struct{}{}:
			case <-c.ctx.Done():
				c.fail(img, c.ctx.Err())
				return
			}
			ref, digest, err := c.resolve(img)
			<-c.sem
			if err != nil {
				c.fail(img, err)
				return
			}
			c.mu.Lock()
			c.resolved[img] = digest
			c.startLocked(ref, digest)
			c.mu.Unlock()
		}()
	}
	wg.Wait()
	c.wg.Wait()

	c.mu.Lock()
	defer c.mu.Unlock()
	for k, ds := range c.refs {
		if d, ok := c.resolved[k.image]; ok && len(ds) == 0 {
			ds[d] = true
		}
	}
	errs := slices.Clone(c.errs)
	slices.SortFunc(errs, func(a, b load.InputError) int { return strings.Compare(a.File, b.File) })
	return errs
}

// resolve asks the registry which digest an image reference (a tag, or
// already a digest) names.
func (c *clusterImages) resolve(img string) (ref, digest string, err error) {
	r, err := name.ParseReference(img)
	if err != nil {
		return "", "", fmt.Errorf("not an image reference: %s", oneline.Err(err))
	}
	if d, ok := r.(name.Digest); ok {
		return d.String(), d.DigestStr(), nil
	}
	desc, err := remote.Head(r, remote.WithContext(c.ctx), remote.WithAuthFromKeychain(c.keychain), remote.WithUserAgent("rampart"))
	if err != nil {
		return "", "", fmt.Errorf("resolving the tag: %s", oneline.Err(err))
	}
	return r.Context().Digest(desc.Digest.String()).String(), desc.Digest.String(), nil
}

// Image implements control.ImageIndex: the vulnerabilities of the digests
// image ran as in namespace (of the worst digest, severity by severity,
// when a tag moved), or nil when none of them could be analysed. Call it
// after Finish.
func (c *clusterImages) Image(namespace, image string) *control.ImageVulns {
	c.mu.Lock()
	defer c.mu.Unlock()
	ds := c.refs[imageKey{namespace, image}]
	var out *control.ImageVulns
	digests := make([]string, 0, len(ds))
	for d := range ds {
		digests = append(digests, d)
	}
	slices.Sort(digests)
	for _, d := range digests {
		s := c.byDigest[d]
		if s == nil || s.vulns == nil {
			continue
		}
		if out == nil {
			out = &control.ImageVulns{}
		}
		out.Digests = append(out.Digests, d)
		out.Critical = worse(out.Critical, s.vulns.Critical)
		out.High = worse(out.High, s.vulns.High)
	}
	return out
}

// worse returns the larger count (a on ties).
func worse(a, b control.VulnCount) control.VulnCount {
	if b.N > a.N {
		return b
	}
	return a
}

// openVulnDB opens the vulnerability database for image analysis and warns
// on stderr when it is older than maxAge.
func openVulnDB(ctx context.Context, path string, maxAge time.Duration, stderr io.Writer) (*vulndb.DB, error) {
	path = firstNonEmpty(path, vulndb.DefaultPath())
	db, err := vulndb.Open(path, false)
	if err != nil {
		return nil, usageError("%v", err)
	}
	if st, err := db.Status(ctx); err == nil && st.Stale(time.Now(), maxAge) {
		age := "never imported into"
		if !st.Imported.IsZero() {
			age = fmt.Sprintf("last imported %s ago", st.Age(time.Now()).Round(time.Hour))
		}
		fmt.Fprintf(stderr, "rampart: warning: vulnerability database %s is stale (%s); run rampart db update or rampart db import\n", path, age)
	}
	return db, nil
}
