// Package supplychain holds the catalogue entries of image vulnerability
// matching: image-critical-vulnerabilities and image-high-vulnerabilities,
// evaluated by `rampart image --vulns` against the offline OSV database,
// not by manifest scans. The controls set External to "image"; the logic
// lives in internal/vuln, whose ControlCritical and ControlHigh name the
// same IDs.
package supplychain

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/rampart-dev/rampart/internal/control"
)

//go:embed metadata.yaml
var metadata []byte

// IDs of the image vulnerability controls (the same as
// vuln.ControlCritical and vuln.ControlHigh).
const (
	ImageCriticalVulnerabilities = "image-critical-vulnerabilities"
	ImageHighVulnerabilities     = "image-high-vulnerabilities"
)

// Controls returns the family's controls with their metadata bound.
func Controls() ([]*control.Control, error) {
	return control.Family(metadata, []*control.Control{
		{Metadata: control.Metadata{ID: ImageCriticalVulnerabilities}, External: "image"},
		{Metadata: control.Metadata{ID: ImageHighVulnerabilities}, External: "image"},
	})
}

// ClusterControls returns the same two controls for cluster scans with
// image analysis (rampart scan --cluster --images): cross-object checks
// that fail once per workload running an image with critical (or high)
// vulnerabilities, from control.CrossContext.Images. They are not in the
// registry (which holds the External forms); the scan command swaps them
// in when it analyses images.
func ClusterControls() ([]*control.Control, error) {
	return control.Family(metadata, []*control.Control{
		{Metadata: control.Metadata{ID: ImageCriticalVulnerabilities}, Cross: imageCheck(func(v *control.ImageVulns) control.VulnCount { return v.Critical }, "critical")},
		{Metadata: control.Metadata{ID: ImageHighVulnerabilities}, Cross: imageCheck(func(v *control.ImageVulns) control.VulnCount { return v.High }, "high")},
	})
}

// maxWorst bounds the vulnerabilities a message names.
const maxWorst = 3

// imageCheck fails every workload one of whose containers runs an image
// for which count is not zero. A workload none of whose images was
// analysed is not evaluated (an image that could not be read is an input
// error of the scan, not a pass).
func imageCheck(count func(*control.ImageVulns) control.VulnCount, level string) func(*control.CrossContext) {
	return func(cc *control.CrossContext) {
		if cc.Images == nil {
			return
		}
		for _, w := range cc.Inv.Workloads() {
			evaluated := false
			var vs []control.Violation
			for i, img := range w.Pod.Images {
				iv := cc.Images.Image(w.Ref.Namespace, img)
				if iv == nil {
					continue
				}
				evaluated = true
				n := count(iv)
				if n.N == 0 {
					continue
				}
				vs = append(vs, control.Violation{
					Path:    w.Pod.ContainerPath(i) + ".image",
					Message: ImageMessage(img, iv.Digests, n, level),
				})
			}
			if !evaluated {
				continue
			}
			cc.Evaluate(w)
			for _, v := range vs {
				cc.Fail(w, v)
			}
		}
	}
}

// ImageMessage says that img (running as digests) has n vulnerabilities
// of level, naming the worst.
func ImageMessage(img string, digests []string, n control.VulnCount, level string) string {
	noun := "vulnerabilities"
	if n.N == 1 {
		noun = "vulnerability"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Image %s", img)
	if len(digests) > 0 {
		fmt.Fprintf(&b, " (running as %s)", strings.Join(digests, ", "))
	}
	fmt.Fprintf(&b, " has %d %s %s", n.N, level, noun)
	if len(n.Worst) > 0 {
		worst := n.Worst
		if len(worst) > maxWorst {
			worst = worst[:maxWorst]
		}
		b.WriteString(", among them " + strings.Join(worst, "; "))
	}
	return b.String()
}
