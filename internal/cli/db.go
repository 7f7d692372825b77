package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-dev/rampart/internal/vulndb"
)

// osvBucket is where osv.dev publishes its per-ecosystem exports.
const osvBucket = "https://osv-vulnerabilities.storage.googleapis.com"

// maxDownload bounds one downloaded all.zip.
const maxDownload = 4 << 30

// NewCmdDB builds `rampart db`: import, update and status of the offline
// vulnerability database.
func NewCmdDB(streams IO) *cobra.Command {
	var dbPath string
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the offline vulnerability database (OSV)",
		Long: "Rampart matches image packages against a local database of OSV records in one SQLite file " +
			"(default $XDG_CACHE_HOME/rampart/vuln.db). Scans read it offline; import or update it where the network allows.",
	}
	cmd.PersistentFlags().StringVar(&dbPath, "db", vulndb.DefaultPath(), "vulnerability database file")
	cmd.AddCommand(newCmdDBImport(streams, &dbPath), newCmdDBUpdate(streams, &dbPath), newCmdDBStatus(streams, &dbPath))
	return cmd
}

func newCmdDBImport(streams IO, dbPath *string) *cobra.Command {
	return &cobra.Command{
		Use:   "import PATH...",
		Short: "Import OSV records from directories of JSON files or osv.dev all.zip exports",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Check every path first, so that a typo creates no empty database.
			for _, p := range args {
				if _, err := os.Stat(p); err != nil {
					return usageError("import %s: %v", p, err)
				}
			}
			db, err := vulndb.Open(*dbPath, true)
			if err != nil {
				return err
			}
			defer func() { _ = db.Close() }()
			for _, p := range args {
				if err := importOne(cmd.Context(), streams, db, p); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func importOne(ctx context.Context, streams IO, db *vulndb.DB, path string) error {
	st, err := db.Import(ctx, path)
	for _, e := range st.Errors {
		_, _ = fmt.Fprintf(streams.Err, "skipped %s\n", e.Error())
	}
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(streams.Out, "%s: %d records imported, %d unchanged, %d skipped in %s (%.0f records/s) into %s\n",
		path, st.Records, st.Unchanged, len(st.Errors), st.Duration.Round(time.Millisecond), st.Rate(), db.Path())
	return nil
}

func newCmdDBUpdate(streams IO, dbPath *string) *cobra.Command {
	var ecosystems []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Download osv.dev's all.zip for the selected ecosystems and import them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := vulndb.Open(*dbPath, true)
			if err != nil {
				return err
			}
			defer func() { _ = db.Close() }()
			client := &http.Client{Timeout: timeout}
			tmp, err := os.MkdirTemp("", "rampart-osv-")
			if err != nil {
				return err
			}
			defer func() { _ = os.RemoveAll(tmp) }()
			for _, eco := range ecosystems {
				zipPath := filepath.Join(tmp, strings.ReplaceAll(eco, " ", "_")+".zip")
				url := osvBucket + "/" + strings.ReplaceAll(eco, " ", "%20") + "/all.zip"
				if err := download(cmd.Context(), client, url, zipPath); err != nil {
					return err
				}
				if err := importOne(cmd.Context(), streams, db, zipPath); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&ecosystems, "ecosystem", []string{"Debian", "Ubuntu", "Alpine", "AlmaLinux", "Rocky Linux", "Red Hat", "Go", "npm", "PyPI", "Maven"}, "OSV ecosystems to download")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "time limit per download")
	return cmd
}

func download(ctx context.Context, client *http.Client, url, dst string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: HTTP %d", url, resp.StatusCode)
	}
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxDownload+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxDownload {
		err = fmt.Errorf("over the %d byte limit", int64(maxDownload))
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	return nil
}

func newCmdDBStatus(streams IO, dbPath *string) *cobra.Command {
	var maxAge time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the database's path, age and record counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := vulndb.Open(*dbPath, false)
			if err != nil {
				return err
			}
			defer func() { _ = db.Close() }()
			s, err := db.Status(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			w := streams.Out
			_, _ = fmt.Fprintf(w, "path:      %s (%d bytes)\n", s.Path, s.Size)
			if s.Imported.IsZero() {
				_, _ = fmt.Fprintln(w, "imported:  never")
			} else {
				_, _ = fmt.Fprintf(w, "imported:  %s (%s ago)\n", s.Imported.Format(time.RFC3339), s.Age(now).Round(time.Second))
			}
			_, _ = fmt.Fprintf(w, "records:   %d (%d withdrawn)\n", s.Records, s.Withdrawn)
			ecos := make([]string, 0, len(s.Ecosystems))
			for e := range s.Ecosystems {
				ecos = append(ecos, e)
			}
			slices.Sort(ecos)
			for _, e := range ecos {
				_, _ = fmt.Fprintf(w, "  %-12s %d\n", e, s.Ecosystems[e])
			}
			if len(s.Sources) > 0 {
				_, _ = fmt.Fprintf(w, "sources:   %s\n", strings.Join(s.Sources, ", "))
			}
			if s.Stale(now, maxAge) {
				_, _ = fmt.Fprintf(streams.Err, "warning: vulnerability database %s is stale (%s old, limit %s); run `rampart db update` or import a newer export\n",
					s.Path, s.Age(now).Round(time.Hour), maxAge)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&maxAge, "max-age", 7*24*time.Hour, "age after which the database is reported stale")
	return cmd
}
