package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/runbook"
)

func newEvidence() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "The NIS2 evidence report for an auditor: backups, restore tests, plan reviews, crisis rooms",
		Long: `The evidence report gathers, for a town and a period (by default the last 12
months), what the server records as evidence for NIS2 art. 21(2)(c): per
service of the continuity plan, its RTO and RPO, its backup sources with
their latest backup and its age against the RPO, the restore drills of the
period (results, restore time against the RTO, evidence digests) and the
alerts; the plan's versions and reviews; retention and immutability; the
number of crisis rooms opened (never their content). It states facts with
their dates and makes no compliance claim (docs/evidence.md).

Auditors, operators and the town's admin may export it; operators and
server-wide auditors may export every town in one CSV file.`,
		Example: `  rempart evidence export --format pdf -o evidence.pdf
  rempart evidence export --format csv --from 2026-01-01 --to 2026-06-30 --tenant mairie-a
  rempart evidence export --format csv -o all-towns.csv   # operators: every town`,
	}
	cmd.PersistentFlags().StringVar(&serverFlag, "server", "", "server URL, when signed in to several")
	cmd.AddCommand(newEvidenceExport())
	return cmd
}

// checkDay accepts a date (YYYY-MM-DD) or an RFC 3339 time.
func checkDay(flag, v string) error {
	if v == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, v); err == nil {
		return nil
	}
	if _, err := time.Parse(time.RFC3339, v); err == nil {
		return nil
	}
	return usagef("%s %q: give a date (YYYY-MM-DD)", flag, v)
}

func newEvidenceExport() *cobra.Command {
	var format, output, lang, from, to, tenant string
	cmd := &cobra.Command{
		Use:   "export --format pdf|csv [-o FILE] [--from DATE] [--to DATE] [--lang fr|en] [--tenant T]",
		Short: "Write the evidence report of a town (or, as CSV, of every town) for a period",
		Long: `Build the evidence report on the server and write it to a file (-o; default
evidence-TENANT-FROM-TO.FORMAT) or, with -o -, to standard output. The
period runs from --from to --to inclusive (dates, YYYY-MM-DD, in UTC; by
default the 12 months up to now). --format pdf is the printable report,
in French (--lang fr, the default) or English (--lang en); --format csv is
one row per service (UTF-8, a header row, RFC 4180). Without --tenant, the
report is your account's town's; for an operator or a server-wide auditor,
a CSV of every town.`,
		Example: `  rempart evidence export --format pdf --lang en -o evidence.pdf
  rempart evidence export --format csv --from 2026-01-01 -o - | column -s, -t`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format = strings.ToLower(format)
			if format != "pdf" && format != "csv" {
				return usagef("--format: pdf or csv")
			}
			lang, err := runbook.ParseLang(lang)
			if err != nil {
				return usagef("--lang: %v", err)
			}
			if err := checkDay("--from", from); err != nil {
				return err
			}
			if err := checkDay("--to", to); err != nil {
				return err
			}
			if tenant == "" {
				_, sv, err := adminServer()
				if err != nil {
					return err
				}
				tenant = sv.Admin.Tenant
			}
			if tenant == "" && format == "pdf" {
				return usagef("say whose report with --tenant NAME (your account is not tied to one tenant; see `rempart tenant list`), or export every town with --format csv")
			}
			q := url.Values{}
			for k, v := range map[string]string{"from": from, "to": to} {
				if v != "" {
					q.Set(k, v)
				}
			}
			path, who := "/v1/evidence.csv", "every town"
			if tenant != "" {
				q.Set("lang", lang)
				path, who = "/v1/tenants/"+url.PathEscape(tenant)+"/evidence."+format, tenant
			}
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			data, _, err := download(cmd.Context(), path)
			if err != nil {
				return err
			}
			if output == "" {
				name := tenant
				if name == "" {
					name = "all"
				}
				end := orDefault(to, time.Now().UTC().Format(time.DateOnly))
				start := from
				if start == "" {
					if t, err := time.Parse(time.DateOnly, end[:min(len(end), 10)]); err == nil {
						start = t.AddDate(-1, 0, 0).Format(time.DateOnly)
					}
				}
				output = fmt.Sprintf("evidence-%s-%s-%s.%s", name, start[:min(len(start), 10)], end[:min(len(end), 10)], format)
			}
			if output == "-" {
				_, err := os.Stdout.Write(data)
				return err
			}
			if err := os.WriteFile(output, data, 0o600); err != nil {
				return fmt.Errorf("cannot write the evidence report: %w", err)
			}
			if g.json {
				return printJSON(map[string]any{"tenant": tenant, "format": format, "lang": lang, "from": from, "to": to, "file": output, "bytes": len(data)})
			}
			say("Wrote the evidence report of %s (%s) to %s.", who, format, output)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "pdf", "pdf or csv")
	cmd.Flags().StringVarP(&output, "output", "o", "", "the file to write (- for standard output; default evidence-TENANT-FROM-TO.FORMAT)")
	cmd.Flags().StringVar(&lang, "lang", "fr", "the PDF's language: fr or en")
	cmd.Flags().StringVar(&from, "from", "", "the period's first day, YYYY-MM-DD (default: 12 months before --to)")
	cmd.Flags().StringVar(&to, "to", "", "the period's last day, YYYY-MM-DD (default: now)")
	cmd.Flags().StringVar(&tenant, "tenant", "", "the town (default: your account's; for operators, every town as CSV)")
	return cmd
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
