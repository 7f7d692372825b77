// Command rampart is the Rampart Kubernetes security scanner.
package main

import (
	"os"

	"github.com/rampart-dev/rampart/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], cli.StdIO()))
}
