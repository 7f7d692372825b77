package node

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// maxFileSize bounds the config files and command lines the audit reads.
const maxFileSize = 4 << 20

// FileInfo is what a permission or ownership check needs to know of a file.
type FileInfo struct {
	// Mode is the file's mode (type and permission bits).
	Mode fs.FileMode
	// UID and GID are the numeric owner and group.
	UID, GID uint32
}

// Host is the node's filesystem as the audit sees it. Paths are absolute
// paths on the node ("/etc/kubernetes/admin.conf").
type Host interface {
	// ReadFile returns the content of a file (bounded in size).
	ReadFile(name string) ([]byte, error)
	// Stat returns the mode and owner of a file, following symbolic links.
	Stat(name string) (FileInfo, error)
	// ReadDir lists a directory.
	ReadDir(name string) ([]fs.DirEntry, error)
}

// DirHost is a Host whose root is a directory: "/" for the machine the
// audit runs on, "/host" for a node filesystem mounted into a Pod. Symbolic
// links are resolved inside the root, an absolute link target being taken
// relative to it, as it would be on the node.
type DirHost struct {
	// Root is the directory standing for the node's "/".
	Root string
}

var _ Host = DirHost{}

func (h DirHost) path(name string) (string, error) {
	if h.Root == "" || h.Root == "/" {
		return path.Clean("/" + name), nil
	}
	p, err := securejoin.SecureJoin(h.Root, name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// ReadFile reads a file of at most 4 MiB.
func (h DirHost) ReadFile(name string) ([]byte, error) {
	p, err := h.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxFileSize)
	}
	return data, nil
}

// Stat returns the mode and owner of a file.
func (h DirHost) Stat(name string) (FileInfo, error) {
	p, err := h.path(name)
	if err != nil {
		return FileInfo{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return FileInfo{}, err
	}
	uid, gid := owner(fi)
	return FileInfo{Mode: fi.Mode(), UID: uid, GID: gid}, nil
}

// ReadDir lists a directory.
func (h DirHost) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := h.path(name)
	if err != nil {
		return nil, err
	}
	return os.ReadDir(p)
}

// reason turns a file error into the short reason a warning gives.
func reason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied (run as root to read it)"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "/") {
		s = s[i+2:]
	}
	return s
}

// accounts maps user and group names of the node (/etc/passwd, /etc/group)
// to their IDs.
type accounts struct {
	users, groups map[string]uint32
}

func loadAccounts(h Host) accounts {
	return accounts{users: idFile(h, "/etc/passwd"), groups: idFile(h, "/etc/group")}
}

// idFile parses name:x:id:... lines; a missing or unreadable file gives an
// empty map (root is always 0).
func idFile(h Host, name string) map[string]uint32 {
	out := map[string]uint32{"root": 0}
	data, err := h.ReadFile(name)
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if id, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			out[f[0]] = uint32(id)
		}
	}
	return out
}
