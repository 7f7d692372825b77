package controlplane

import (
	"path"
	"strings"

	"github.com/rampart-dev/rampart/internal/k8s"
)

// Token is one word of a container's command line with the field path it
// was read from (a command or args item; every word of a `sh -c` script
// shares the script's path).
type Token struct {
	// Text is the word.
	Text string
	// Path is the field path of the list item holding the word.
	Path string
}

// Flag is one flag occurrence on a command line.
type Flag struct {
	// Name is the flag name without leading dashes.
	Name string
	// Value is the flag's value; "true" for a bare boolean flag.
	Value string
	// Path is the field path of the item holding the flag.
	Path string
}

// Invocation is a container's command line split into the program that
// runs and the flags it receives.
type Invocation struct {
	// Program is the base name of the program ("kube-apiserver"), or the
	// hyperkube sub-command normalised to its binary name.
	Program string
	// Flags are the flags in command-line order.
	Flags []Flag
	// Positional are the non-flag words after the program.
	Positional []Token
	// Path is where an absent flag would go: the container's command, or
	// its args when it has no command.
	Path string
	// Env is the container's environment (name to value and path), for
	// programs that also read flags from variables, like etcd.
	Env map[string]Flag
}

// Tokens returns the words of a container's command followed by its args.
// An exec of a shell script (`sh -c "..."`) is split into the script's
// words; arguments to the shell itself are dropped.
func Tokens(c k8s.Container) []Token {
	var out []Token
	cmd := k8s.Slice(c.Spec, "command")
	args := k8s.Slice(c.Spec, "args")
	for _, list := range [2]struct {
		field string
		items []any
	}{{"command", cmd}, {"args", args}} {
		base := c.Path + "." + list.field
		for i, it := range list.items {
			s, ok := it.(string)
			if !ok {
				continue
			}
			out = append(out, Token{Text: s, Path: k8s.Index(base, i)})
		}
	}
	// A shell wrapper: sh -c "<script>" [args...].
	if len(out) >= 3 && isShell(out[0].Text) && out[1].Text == "-c" {
		script := out[2]
		var words []Token
		for _, w := range strings.Fields(script.Text) {
			words = append(words, Token{Text: strings.Trim(w, `"'`), Path: script.Path})
		}
		return words
	}
	return out
}

func isShell(s string) bool {
	switch path.Base(s) {
	case "sh", "bash", "ash", "dash", "zsh":
		return true
	}
	return false
}

// binaries maps control plane binary names to themselves and hyperkube
// sub-commands to the binary they stand for.
var binaries = map[string]string{
	"kube-apiserver": "kube-apiserver", "kube-controller-manager": "kube-controller-manager",
	"kube-scheduler": "kube-scheduler", "kubelet": "kubelet", "etcd": "etcd",
}

// hyperkubeCommands maps hyperkube sub-commands to the binary they run.
var hyperkubeCommands = map[string]string{
	"kube-apiserver": "kube-apiserver", "apiserver": "kube-apiserver",
	"kube-controller-manager": "kube-controller-manager", "controller-manager": "kube-controller-manager",
	"kube-scheduler": "kube-scheduler", "scheduler": "kube-scheduler",
	"kubelet": "kubelet",
}

// wrappers are programs that start another program named later on their
// command line (the go-runner of the registry.k8s.io images, init shims).
var wrappers = map[string]bool{"go-runner": true, "tini": true, "dumb-init": true, "exec": true, "nice": true}

// imagePrograms maps control plane image names (last path element, no tag)
// to the binary they run when a manifest gives args but no command.
var imagePrograms = map[string]string{
	"kube-apiserver": "kube-apiserver", "kube-apiserver-amd64": "kube-apiserver", "kube-apiserver-arm64": "kube-apiserver",
	"kube-controller-manager": "kube-controller-manager", "kube-controller-manager-amd64": "kube-controller-manager", "kube-controller-manager-arm64": "kube-controller-manager",
	"kube-scheduler": "kube-scheduler", "kube-scheduler-amd64": "kube-scheduler", "kube-scheduler-arm64": "kube-scheduler",
}

// ImageName returns the last path element of an image reference without
// its tag or digest: "registry.k8s.io/kube-apiserver:v1.31.0" → "kube-apiserver".
func ImageName(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, '/'); i >= 0 {
		image = image[i+1:]
	}
	if i := strings.IndexByte(image, ':'); i >= 0 {
		image = image[:i]
	}
	return image
}

// ControlPlane returns the invocation of a container that runs a control
// plane binary (kube-apiserver, kube-controller-manager, kube-scheduler,
// kubelet, etcd), or false. It looks at the first word of the command line
// before anything else, so it is cheap for ordinary containers.
func ControlPlane(c k8s.Container) (Invocation, bool) {
	if !candidate(c.Spec) {
		return Invocation{}, false
	}
	cmd := k8s.Slice(c.Spec, "command")
	first := firstWord(c.Spec)
	prog, start := "", 0
	if len(cmd) == 0 && strings.HasPrefix(first, "-") {
		// Flags only: the image's entrypoint is the program.
		prog = imagePrograms[ImageName(k8s.Str(c.Spec, "image"))]
	}
	toks := Tokens(c)
	if prog == "" {
		prog, start = findProgram(toks, isShell(first))
		if prog == "" {
			return Invocation{}, false
		}
	}
	inv := Invocation{Program: prog, Path: c.Path + ".command"}
	if len(cmd) == 0 {
		inv.Path = c.Path + ".args"
	}
	inv.Flags, inv.Positional = ParseFlags(toks[start:], boolFlags)
	if prog == "etcd" {
		inv.Env = etcdEnv(c)
	}
	return inv, true
}

// firstWord returns the first command word of a container, or its first
// arg when it has no command.
func firstWord(c map[string]any) string {
	if cmd := k8s.Slice(c, "command"); len(cmd) > 0 {
		s, _ := cmd[0].(string)
		return s
	}
	if args := k8s.Slice(c, "args"); len(args) > 0 {
		s, _ := args[0].(string)
		return s
	}
	return ""
}

// candidate reports, without allocating, whether a container may run a
// control plane binary: its first word is a binary, hyperkube, a wrapper or
// a shell, or it passes only flags to a control plane image.
func candidate(c map[string]any) bool {
	first := firstWord(c)
	if first == "" {
		return false
	}
	b := path.Base(first)
	switch {
	case binaries[b] != "", b == "hyperkube", wrappers[b], isShell(first):
		return true
	case strings.HasPrefix(first, "-") && len(k8s.Slice(c, "command")) == 0:
		return imagePrograms[ImageName(k8s.Str(c, "image"))] != ""
	}
	return false
}

// findProgram returns the control plane binary a command line runs and the
// index of its first argument. The program is the first word unless that
// word is a wrapper, or the words come from a shell script (script), in
// which case the first non-flag word naming a binary is taken.
func findProgram(toks []Token, script bool) (string, int) {
	for i, t := range toks {
		if strings.HasPrefix(t.Text, "-") {
			continue
		}
		b := path.Base(t.Text)
		if p := binaries[b]; p != "" {
			return p, i + 1
		}
		if b == "hyperkube" && i+1 < len(toks) {
			if p := hyperkubeCommands[toks[i+1].Text]; p != "" {
				return p, i + 2
			}
			return "", 0
		}
		if i == 0 && !script && !wrappers[b] {
			return "", 0
		}
	}
	return "", 0
}

// boolFlags are the boolean flags these controls read: a bare occurrence
// means true and the next word is never its value.
var boolFlags = map[string]bool{
	"anonymous-auth": true, "profiling": true, "client-cert-auth": true,
	"enable-skip-login": true, "enable-insecure-login": true,
}

// ParseFlags parses words as Go/pflag-style flags: --name=value,
// -name=value, or --name value (for flags not in bools). A shell separator
// (`&&`, `;`, `|`) ends the command line.
func ParseFlags(words []Token, bools map[string]bool) ([]Flag, []Token) {
	var flags []Flag
	var pos []Token
	for i := 0; i < len(words); i++ {
		t := words[i]
		switch t.Text {
		case "&&", ";", "|", "||":
			return flags, pos
		case "--":
			return flags, append(pos, words[i+1:]...)
		}
		if !strings.HasPrefix(t.Text, "-") || t.Text == "-" {
			pos = append(pos, t)
			continue
		}
		name := strings.TrimLeft(t.Text, "-")
		if n, v, ok := strings.Cut(name, "="); ok {
			flags = append(flags, Flag{Name: n, Value: v, Path: t.Path})
			continue
		}
		if bools[name] {
			flags = append(flags, Flag{Name: name, Value: "true", Path: t.Path})
			continue
		}
		if i+1 < len(words) && !strings.HasPrefix(words[i+1].Text, "-") {
			switch words[i+1].Text {
			case "&&", ";", "|", "||":
			default:
				flags = append(flags, Flag{Name: name, Value: words[i+1].Text, Path: t.Path})
				i++
				continue
			}
		}
		flags = append(flags, Flag{Name: name, Value: "true", Path: t.Path})
	}
	return flags, pos
}

// etcdEnv returns the ETCD_* variables of an etcd container keyed by the
// flag they stand for (ETCD_CLIENT_CERT_AUTH → client-cert-auth).
func etcdEnv(c k8s.Container) map[string]Flag {
	var out map[string]Flag
	for i, it := range k8s.Slice(c.Spec, "env") {
		e, ok := it.(map[string]any)
		if !ok {
			continue
		}
		name, ok := strings.CutPrefix(k8s.Str(e, "name"), "ETCD_")
		if !ok || !k8s.Has(e, "value") {
			continue
		}
		if out == nil {
			out = map[string]Flag{}
		}
		flag := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		out[flag] = Flag{Name: flag, Value: k8s.Str(e, "value"), Path: k8s.Index(c.Path+".env", i) + ".value"}
	}
	return out
}

// Last returns the last occurrence of a flag (the one that takes effect),
// falling back to the environment for programs that read it.
func (inv Invocation) Last(name string) (Flag, bool) {
	for i := len(inv.Flags) - 1; i >= 0; i-- {
		if inv.Flags[i].Name == name {
			return inv.Flags[i], true
		}
	}
	if f, ok := inv.Env[name]; ok {
		return f, true
	}
	return Flag{}, false
}

// All returns every occurrence of a flag.
func (inv Invocation) All(name string) []Flag {
	var out []Flag
	for _, f := range inv.Flags {
		if f.Name == name {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		if f, ok := inv.Env[name]; ok {
			out = append(out, f)
		}
	}
	return out
}

// Has reports whether a flag is given.
func (inv Invocation) Has(name string) bool {
	_, ok := inv.Last(name)
	return ok
}

// ListItem returns the first occurrence of a flag whose comma-separated
// value contains item (case-sensitive, as Kubernetes compares them).
func (inv Invocation) ListItem(name, item string) (Flag, bool) {
	for _, f := range inv.All(name) {
		for _, v := range strings.Split(f.Value, ",") {
			if strings.TrimSpace(v) == item {
				return f, true
			}
		}
	}
	return Flag{}, false
}
