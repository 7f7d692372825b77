package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

// Exit codes.
const (
	ExitOK       = 0
	ExitFindings = 1
	ExitUsage    = 2
)

// ExitError carries an exit code; Message, when set, is printed to stderr.
type ExitError struct {
	// Code is the process exit code.
	Code int
	// Message is printed to stderr when not empty.
	Message string
}

// Error returns the message.
func (e *ExitError) Error() string { return e.Message }

// usageError returns an ExitError with code 2.
func usageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Message: fmt.Sprintf(format, args...)}
}

// IO holds the streams commands use.
type IO struct {
	// In is standard input.
	In io.Reader
	// Out is standard output.
	Out io.Writer
	// Err is standard error.
	Err io.Writer
}

// NewRoot builds the root command.
func NewRoot(streams IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "rampart",
		Short:         "Rampart finds and stops Kubernetes misconfigurations",
		Long:          "Rampart scans Kubernetes manifests, Helm charts and Kustomize overlays against a control library mapped to NSA-CISA, CIS, Pod Security Standards and MITRE ATT&CK.",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &ExitError{Code: ExitUsage, Message: err.Error()}
	})
	root.AddCommand(
		NewCmdScan(streams),
		NewCmdControls(streams),
		NewCmdExplain(streams),
		NewCmdNetpol(streams),
		NewCmdRBAC(streams),
		NewCmdNode(streams),
		NewCmdProbe(streams),
		NewCmdWebhook(streams),
		NewCmdVAP(streams),
		NewCmdImage(streams),
		NewCmdDB(streams),
		NewCmdAudit(streams),
		NewCmdSensor(streams),
	)
	return root
}

// Run executes the CLI with args and returns the process exit code.
func Run(args []string, streams IO) int {
	ApplyMemoryLimit()
	root := NewRoot(streams)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Message != "" {
			fmt.Fprintln(streams.Err, "rampart: "+ee.Message)
		}
		return ee.Code
	}
	fmt.Fprintln(streams.Err, "rampart: "+err.Error())
	return ExitUsage
}

// StdIO returns the process's standard streams.
func StdIO() IO { return IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }
