// Command gobin is a small real Go program for image tests: its build
// information lists the main module, two dependencies and the Go version.
package main

import (
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/package-url/packageurl-go"
)

func main() {
	r, err := name.ParseReference(os.Args[len(os.Args)-1])
	if err != nil {
		fmt.Println(packageurl.NewPackageURL("generic", "", "x", "", nil, "").ToString())
		return
	}
	fmt.Println(r.Context().RegistryStr())
}
