package detect

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/rampart-dev/rampart/internal/sbom"

	"github.com/rampart-dev/rampart/internal/oneline"
)

// Java archive limits: nested archives are read in memory, up to
// maxNestedJar bytes each, maxJarDepth levels deep and maxJarBytes in all
// per top-level archive.
const (
	maxJarDepth  = 3
	maxNestedJar = 64 << 20
	maxJarBytes  = 256 << 20
)

func isJavaArchive(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".jar", ".war", ".ear", ".jpi", ".hpi":
		return true
	}
	return false
}

// ParseJavaArchive reads a jar, war or ear in memory: every
// META-INF/maven/<group>/<artifact>/pom.properties, or, when there is
// none, the MANIFEST.MF (Implementation-Vendor-Id or Bundle-SymbolicName
// as group, Implementation-Title or the file name as artifact,
// Implementation-Version or Bundle-Version), and the archives nested in it
// (WEB-INF/lib, BOOT-INF/lib…). Each package's Path is the archive path,
// with "!/" before nested entries.
func ParseJavaArchive(data []byte, name string) ([]sbom.Package, error) {
	budget := int64(maxJarBytes)
	return parseJar(data, name, 0, &budget)
}

func parseJar(data []byte, name string, depth int, budget *int64) ([]sbom.Package, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %s", name, oneline.Err(err))
	}
	var out, nested []sbom.Package
	var manifest map[string]string
	for _, f := range zr.File {
		switch {
		case strings.HasPrefix(f.Name, "META-INF/maven/") && path.Base(f.Name) == "pom.properties":
			props, err := readZipText(f, 1<<20)
			if err != nil {
				continue
			}
			m := parseProperties(props, "=")
			if p, ok := mavenPackage(m["groupId"], m["artifactId"], m["version"], name); ok {
				out = append(out, p)
			}
		case f.Name == "META-INF/MANIFEST.MF":
			text, err := readZipText(f, 1<<20)
			if err == nil {
				manifest = parseProperties(text, ":")
			}
		case depth < maxJarDepth && isJavaArchive(f.Name) && !f.FileInfo().IsDir():
			if f.UncompressedSize64 > maxNestedJar || int64(f.UncompressedSize64) > *budget {
				continue
			}
			b, err := readZip(f, maxNestedJar)
			if err != nil {
				continue
			}
			*budget -= int64(len(b))
			pk, err := parseJar(b, name+"!/"+f.Name, depth+1, budget)
			if err == nil {
				nested = append(nested, pk...)
			}
		}
	}
	if len(out) == 0 && manifest != nil {
		if p, ok := manifestPackage(manifest, name); ok {
			out = append(out, p)
		}
	}
	return append(out, nested...), nil
}

func mavenPackage(group, artifact, version, file string) (sbom.Package, bool) {
	if group == "" || artifact == "" || version == "" {
		return sbom.Package{}, false
	}
	return sbom.Package{
		Name: group + ":" + artifact, Version: version, Ecosystem: sbom.Maven, Path: file,
		PURL: packageurl.NewPackageURL(packageurl.TypeMaven, group, artifact, version, nil, "").ToString(),
	}, true
}

func manifestPackage(m map[string]string, file string) (sbom.Package, bool) {
	group := m["Implementation-Vendor-Id"]
	if group == "" {
		if bsn, _, _ := strings.Cut(m["Bundle-SymbolicName"], ";"); strings.Contains(bsn, ".") {
			group = bsn[:strings.LastIndexByte(bsn, '.')]
		}
	}
	version := m["Implementation-Version"]
	if version == "" {
		version = m["Bundle-Version"]
	}
	base := path.Base(file[strings.LastIndex(file, "!/")+1:])
	base = strings.TrimSuffix(base, path.Ext(base))
	artifact := m["Implementation-Title"]
	if artifact == "" || strings.Contains(artifact, " ") {
		artifact = base
		if version != "" {
			artifact = strings.TrimSuffix(artifact, "-"+version)
		}
	}
	return mavenPackage(group, artifact, version, file)
}

func readZip(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: over %d bytes", f.Name, limit)
	}
	return b, nil
}

func readZipText(f *zip.File, limit int64) (string, error) {
	b, err := readZip(f, limit)
	return string(b), err
}

// parseProperties reads "key<sep>value" lines (pom.properties with "=",
// MANIFEST.MF with ":", whose continuation lines start with a space).
func parseProperties(text, sep string) map[string]string {
	m := map[string]string{}
	var last string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if sep == ":" && strings.HasPrefix(line, " ") && last != "" {
			m[last] += line[1:]
			continue
		}
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, sep)
		if !ok {
			continue
		}
		last = strings.TrimSpace(k)
		m[last] = strings.TrimSpace(v)
	}
	return m
}
