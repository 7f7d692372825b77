package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-dev/rampart/internal/image"
	"github.com/rampart-dev/rampart/internal/sbom"
	"github.com/rampart-dev/rampart/internal/sbom/detect"
	"github.com/rampart-dev/rampart/internal/sbom/format"
	"github.com/rampart-dev/rampart/internal/vulndb"
)

// imageOptions are the flags of `rampart image`.
type imageOptions struct {
	// Platform is os/arch[/variant] for multi-arch images.
	Platform string
	// Format is cyclonedx, spdx, json or table.
	Format string
	// Output is the file to write; empty means standard output.
	Output string
	// Limits bound the layer walk; zero fields take the defaults.
	Limits image.Limits
	// Warn receives one line per skipped entry; nil drops them.
	Warn func(string)
	// Vulns turns on vulnerability matching (image_vulns.go).
	Vulns vulnOptions
}

var imageFormats = []string{"table", "json", "cyclonedx", "spdx"}

// newCmdImageScan builds `rampart image REF...`.
func newCmdImageScan(streams IO) *cobra.Command {
	o := &imageOptions{}
	cmd := &cobra.Command{
		Use:   "image REF...",
		Short: "List the packages of container images (SBOM: CycloneDX, SPDX)",
		Long: `Read container images and list the packages installed in them: the
distribution (os-release), dpkg, apk and rpm (Berkeley DB) packages, Go
binaries (modules and the Go version), npm (package-lock.json and
node_modules), Python (dist-info, egg-info) and Java archives (pom.properties,
MANIFEST.MF, nested jars).

REF is a registry reference (credentials from the docker config and its
credential helpers), a "docker save" tarball, or an OCI image layout
directory, told apart by what exists on disk; the prefixes docker-archive:
and oci-layout: force the form. Layers are read streaming and nothing is
extracted to disk; whiteouts are honoured.

With several REFs, one document is written per image, one after another.

Exit codes: 0 every image read, 2 usage error or an image that could not
be read (the others are still written).`,
		Example: `  rampart image alpine:3.20
  rampart image --platform linux/arm64 -o cyclonedx --output sbom.cdx.json nginx:1.27
  docker save myapp:dev -o myapp.tar && rampart image -o spdx myapp.tar
  rampart image oci-layout:./build/oci`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Warn = func(s string) { fmt.Fprintln(streams.Err, "rampart: warning: "+s) }
			if o.Vulns.Enabled {
				return runImageVulns(cmd.Context(), o, args, streams)
			}
			if !contains(imageFormats, o.Format) {
				return usageError("--format %q: want one of %s", o.Format, strings.Join(imageFormats, ", "))
			}
			return runImage(cmd.Context(), o, args, streams)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Platform, "platform", "", "platform to pick from a multi-arch image, os/arch[/variant] (default linux/amd64, or the only one)")
	f.StringVarP(&o.Format, "format", "o", "table", "output format: "+strings.Join(imageFormats, ", "))
	f.StringVar(&o.Output, "output", "", "write to this file instead of standard output")
	f.BoolVar(&o.Vulns.Enabled, "vulns", false, "match the packages against the offline vulnerability database and write a report (-o "+strings.Join(vulnFormats, "|")+")")
	f.StringVar(&o.Vulns.DB, "db", "", "--vulns: vulnerability database (default "+vulndb.DefaultPath()+")")
	f.BoolVar(&o.Vulns.IgnoreUnfixed, "ignore-unfixed", false, "--vulns: leave out vulnerabilities without a fixed version")
	f.StringVar(&o.Vulns.Severity, "severity", "info", "--vulns: lowest severity reported")
	f.StringVar(&o.Vulns.IgnoreFile, "ignore-file", "", "--vulns: VEX/ignore file (id or alias, package, reason, expires)")
	f.StringVar(&o.Vulns.FailOn, "fail-on", "high", "--vulns: exit 1 on vulnerabilities at or above this severity")
	f.DurationVar(&o.Vulns.MaxAge, "max-age", 7*24*time.Hour, "--vulns: warn when the database is older than this")
	f.BoolVar(&o.Vulns.NoColor, "no-color", false, "--vulns: never colour table output")
	return cmd
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func runImage(ctx context.Context, o *imageOptions, refs []string, streams IO) error {
	bw, finish, err := openOutput(streams, o.Output)
	if err != nil {
		return err
	}
	failed := 0
	var werr error
	for _, ref := range refs {
		s, err := analyzeImage(ctx, ref, *o)
		if err != nil {
			fmt.Fprintln(streams.Err, "rampart: error: "+err.Error())
			failed++
			continue
		}
		if werr = writeSBOM(bw, s, o.Format); werr != nil {
			break
		}
	}
	if ferr := finish(); werr == nil {
		werr = ferr
	}
	if werr != nil {
		return &ExitError{Code: ExitUsage, Message: fmt.Sprintf("writing SBOM: %v", werr)}
	}
	if failed > 0 {
		return &ExitError{Code: ExitUsage}
	}
	return nil
}

// analyzeImage opens ref, squashes its layers and detects its packages.
func analyzeImage(ctx context.Context, ref string, o imageOptions) (*sbom.SBOM, error) {
	op, err := image.Open(ctx, ref, image.SourceOptions{Platform: o.Platform})
	if err != nil {
		return nil, err
	}
	lim := o.Limits
	lim.DiffIDs = op.Kind == image.KindTarball
	fsys, err := image.Squash(ctx, op.Image, &detect.Analyzer{}, lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if o.Warn != nil {
		for _, w := range fsys.Warnings() {
			o.Warn(ref + ": " + w)
		}
	}
	return detect.Build(fsys, op.Info), nil
}

func writeSBOM(w io.Writer, s *sbom.SBOM, f string) error {
	switch f {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	case "table":
		return writeSBOMTable(w, s)
	}
	return format.Writers[f](w, s, format.Options{ToolVersion: Version})
}

func writeSBOMTable(w io.Writer, s *sbom.SBOM) error {
	fmt.Fprintf(w, "Image:    %s\n", s.Image.Ref)
	if s.Image.Digest != "" {
		fmt.Fprintf(w, "Digest:   %s\n", s.Image.Digest)
	}
	fmt.Fprintf(w, "Platform: %s\n", s.Image.Platform)
	if s.Distro != nil {
		name := s.Distro.PrettyName
		if name == "" {
			name = s.Distro.ID + " " + s.Distro.VersionID
		}
		fmt.Fprintf(w, "Distro:   %s\n", name)
	}
	fmt.Fprintf(w, "Packages: %d\n\n", len(s.Packages))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ECOSYSTEM\tNAME\tVERSION\tSOURCE\tPATH")
	for _, p := range s.Packages {
		src := ""
		if p.SourceName != "" {
			src = p.SourceName + " " + p.SourceVersion
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Ecosystem, p.Name, p.Version, strings.TrimSpace(src), p.Path)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}
