package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/runbook"
)

// runbookTenant is --tenant, or the tenant of the signed-in account.
var runbookTenant string

func newRunbook() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runbook",
		Short: "The printable recovery runbook: the plan on paper, for when every computer is down",
		Long: `The runbook is the continuity plan on paper, for the crisis cell when every
computer is down: the first hour (the first steps of CERT-FR's reflex sheets:
isolate, open the logbook, alert the crisis cell, get help, file a complaint,
notify the CNIL and, under NIS2, ANSSI), the crisis directory, the crisis
room's address with a QR code and the fingerprint of the server's CA, where
the recovery keys are kept (never the keys), the recovery order in waves with
each service's RTO, RPO and owner, the problems that would stop a recovery,
one sheet per service (backups, dependencies, fallback procedure, contacts)
and a logbook page to write on. Every page carries the town, the plan's
version, the date and its number.

Print it, keep copies offline (crisis kit, safe), and print it again at every
new version of the plan. Whoever may read the plan may export it.`,
		Example: `  rempart runbook export --format pdf -o runbook.pdf
  rempart runbook export --tenant mairie-a --lang en --format md -o runbook.md`,
	}
	cmd.PersistentFlags().StringVar(&serverFlag, "server", "", "server URL, when signed in to several")
	cmd.PersistentFlags().StringVar(&runbookTenant, "tenant", "", "the tenant (town) whose runbook it is (default: your account's tenant)")
	cmd.AddCommand(newRunbookExport())
	return cmd
}

func newRunbookExport() *cobra.Command {
	var format, output, lang string
	var version int64
	cmd := &cobra.Command{
		Use:   "export [--format pdf|md] [-o FILE] [--lang fr|en] [--version N] [--tenant NAME]",
		Short: "Write the runbook of the plan (the latest version, or version N) as PDF or Markdown",
		Long: `Build the runbook on the server from the plan (the latest version, or
--version N), the backups it holds and its crisis room's address and CA
fingerprint, and write it to a file (-o; default runbook-TENANT-vN.pdf) or,
with -o -, to standard output. --lang chooses French (fr, the default) or
English (en). The file holds names and phone numbers: it is readable by you
only.`,
		Example: `  rempart runbook export --format pdf -o runbook.pdf
  rempart runbook export --format md -o - | less`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format = strings.ToLower(format)
			if format != "pdf" && format != "md" {
				return usagef("--format: pdf or md")
			}
			if version < 0 {
				return usagef("--version: use a number shown by `rempart plan history`")
			}
			lang, err := runbook.ParseLang(lang)
			if err != nil {
				return usagef("--lang: %v", err)
			}
			tenant := runbookTenant
			if tenant == "" {
				_, sv, err := adminServer()
				if err != nil {
					return err
				}
				if tenant = sv.Admin.Tenant; tenant == "" {
					return usagef("say whose runbook with --tenant NAME (your account is not tied to one tenant; see `rempart tenant list`)")
				}
			}
			q := url.Values{"lang": {lang}}
			if version > 0 {
				q.Set("version", strconv.FormatInt(version, 10))
			}
			path := "/v1/tenants/" + url.PathEscape(tenant) + "/runbook." + format + "?" + q.Encode()
			data, planVersion, err := download(cmd.Context(), path)
			if err != nil {
				return err
			}
			if output == "" {
				output = fmt.Sprintf("runbook-%s-v%s.%s", tenant, planVersion, format)
			}
			if output == "-" {
				_, err := os.Stdout.Write(data)
				return err
			}
			// Names and phone numbers: readable by the owner only.
			if err := os.WriteFile(output, data, 0o600); err != nil {
				return fmt.Errorf("cannot write the runbook: %w", err)
			}
			if g.json {
				return printJSON(map[string]any{"tenant": tenant, "version": planVersion, "format": format, "lang": lang, "file": output, "bytes": len(data)})
			}
			say("Wrote the runbook of %s (plan version %s, %s, %s) to %s. Print it and keep the copies offline.", tenant, planVersion, format, lang, output)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "pdf", "pdf or md (Markdown, the same content)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "the file to write (- for standard output; default runbook-TENANT-vN.FORMAT)")
	cmd.Flags().StringVar(&lang, "lang", "fr", "the language: fr or en")
	cmd.Flags().Int64Var(&version, "version", 0, "this version of the plan (see `rempart plan history`) instead of the latest")
	return cmd
}

// download GETs a file from the administration API; it returns the body
// and the plan version the server says it was made from.
func download(ctx context.Context, path string) ([]byte, string, error) {
	_, sv, err := adminServer()
	if err != nil {
		return nil, "", err
	}
	client, err := pinnedClient(sv)
	if err != nil {
		return nil, "", err
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sv.URL+path, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Authorization", "Bearer "+sv.Admin.Token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("cannot reach the server at %s: %w", sv.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, "", fmt.Errorf("reading the answer of %s: %w", sv.URL, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(bytes.ToValidUTF8(data[:min(len(data), 500)], nil)))
		}
		return nil, "", &apiError{resp.StatusCode, e.Error}
	}
	return data, resp.Header.Get("X-Rempart-Plan-Version"), nil
}
