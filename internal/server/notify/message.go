package notify

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kinds of events.
const (
	KindAlertOpen   = "alert.open"
	KindAlertClosed = "alert.closed"
	KindTest        = "test"
	// KindDrillAlert: a restore drill failed or was slower than the
	// service's RTO (an alert that does not freeze retention).
	KindDrillAlert = "drill.alert"
)

// Event is what a message says. The webhook sends it as JSON.
type Event struct {
	// ID names the event; the same on every retry, so that a receiver can
	// drop duplicates.
	ID     string    `json:"id"`
	Kind   string    `json:"event"` // KindAlertOpen, KindAlertClosed or KindTest
	Time   time.Time `json:"time"`  // when it happened, on the server's clock
	Server string    `json:"server,omitempty"`
	Tenant string    `json:"tenant"`
	// The alert (not for a test).
	AlertID  int64  `json:"alert_id,omitempty"`
	Snapshot string `json:"snapshot,omitempty"` // the snapshot's ID
	Verdict  string `json:"verdict,omitempty"`  // "suspect" or "infected"
	Source   string `json:"source,omitempty"`   // who sent it ("agent:12")
	// SourceHost is the name the agent enrolled with, when known.
	SourceHost string     `json:"source_host,omitempty"`
	Received   *time.Time `json:"received,omitempty"` // when the server received the snapshot
	// CleanSnapshot is the last clean snapshot of the same source, frozen
	// while the alert is open ("" when there is none).
	CleanSnapshot string     `json:"clean_snapshot,omitempty"`
	CleanReceived *time.Time `json:"clean_received,omitempty"`
	// For KindAlertClosed.
	ClosedBy string `json:"closed_by,omitempty"`
	Note     string `json:"note,omitempty"`
	// For KindDrillAlert: the drill's ID, service, result (failed or
	// slow) and why; Source is who recorded it.
	DrillID int64    `json:"drill_id,omitempty"`
	Service string   `json:"service,omitempty"`
	Result  string   `json:"result,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	// RequestID is set instead of DrillID when a requested drill could
	// not run at all (Reasons say why).
	RequestID int64 `json:"request_id,omitempty"`
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (e Event) source() string {
	if e.SourceHost != "" {
		return e.Source + " (" + e.SourceHost + ")"
	}
	return e.Source
}

func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "?"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// summary is the event in one line of English (syslog, logs).
func (e Event) summary() string {
	switch e.Kind {
	case KindTest:
		return fmt.Sprintf("Rempart notification test for tenant %s: this channel works", e.Tenant)
	case KindDrillAlert:
		if e.DrillID == 0 {
			return fmt.Sprintf("Rempart drill alert #%d: the requested restore drill %d of service %s of tenant %s could not run: %s (rempart drill requests --tenant %s)",
				e.AlertID, e.RequestID, e.Service, e.Tenant, strings.Join(e.Reasons, "; "), e.Tenant)
		}
		return fmt.Sprintf("Rempart drill alert #%d: the restore drill of service %s of tenant %s %s: %s (rempart drill show %d)",
			e.AlertID, e.Service, e.Tenant, strings.ToUpper(e.Result), strings.Join(e.Reasons, "; "), e.DrillID)
	case KindAlertClosed:
		return fmt.Sprintf("Rempart Sentinel alert #%d of tenant %s (snapshot %s, %s) closed by %s: %s",
			e.AlertID, e.Tenant, short(e.Snapshot), e.Verdict, e.ClosedBy, e.Note)
	}
	clean := "no earlier clean snapshot of this source"
	if e.CleanSnapshot != "" {
		clean = "last clean snapshot " + short(e.CleanSnapshot) + " is frozen"
	}
	return fmt.Sprintf("Rempart Sentinel alert #%d: snapshot %s of tenant %s is %s (from %s); %s; retention expires nothing until the alert is closed (rempart alert close %d --note TEXT)",
		e.AlertID, short(e.Snapshot), e.Tenant, strings.ToUpper(e.Verdict), e.source(), clean, e.AlertID)
}

// subject is the e-mail's subject line, in both languages.
func (e Event) subject() string {
	switch e.Kind {
	case KindTest:
		return fmt.Sprintf("[Rempart] Test de notification / Notification test — %s", e.Tenant)
	case KindAlertClosed:
		return fmt.Sprintf("[Rempart] Alerte n° %d close / Alert #%d closed — %s", e.AlertID, e.AlertID, e.Tenant)
	case KindDrillAlert:
		fr := "ÉCHEC"
		if e.Result == "slow" {
			fr = "TROP LENT"
		}
		return fmt.Sprintf("[Rempart] Exercice de restauration %s : %s / Restore drill %s: %s — %s", fr, e.Service, strings.ToUpper(e.Result), e.Service, e.Tenant)
	}
	fr := "sauvegarde INFECTÉE"
	if e.Verdict != "infected" {
		fr = "sauvegarde SUSPECTE"
	}
	return fmt.Sprintf("[Rempart] ALERTE n° %d : %s / ALERT #%d: %s snapshot — %s", e.AlertID, fr, e.AlertID, strings.ToUpper(e.Verdict), e.Tenant)
}

// requestBody is the text of a drill alert for a request that could not
// run.
func (e Event) requestBody(p func(string, ...any), server string) {
	p("ALERTE n° %d — exercice de restauration, serveur Rempart %s", e.AlertID, server)
	p("")
	p("Collectivité (tenant) : %s", e.Tenant)
	p("Service               : %s", e.Service)
	p("L'exercice de restauration demandé (demande n° %d) n'a pas pu s'exécuter :", e.RequestID)
	for _, r := range e.Reasons {
		p("  - %s", r)
	}
	p("")
	p("Vérifiez la machine qui exécute les exercices (rempart drill requests --tenant %s),", e.Tenant)
	p("puis demandez l'exercice de nouveau et fermez l'alerte : rempart alert close %d --note \"...\"", e.AlertID)
	p("")
	p("-- English --")
	p("")
	p("ALERT #%d — restore drill, Rempart server %s", e.AlertID, server)
	p("")
	p("Tenant:  %s", e.Tenant)
	p("Service: %s", e.Service)
	p("The requested restore drill (request %d) could not run:", e.RequestID)
	for _, r := range e.Reasons {
		p("  - %s", r)
	}
	p("")
	p("Check the machine that runs drills (rempart drill requests --tenant %s),", e.Tenant)
	p("then request the drill again and close the alert: rempart alert close %d --note \"...\"", e.AlertID)
}

// body is the e-mail's plain text: French first, then English.
func (e Event) body() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	server := e.Server
	if server == "" {
		server = "?"
	}
	switch e.Kind {
	case KindTest:
		p("Ceci est un message de test envoyé par le serveur de sauvegarde Rempart %s", server)
		p("pour la collectivité (tenant) %s, le %s.", e.Tenant, when(&e.Time))
		p("Ce canal de notification fonctionne : les alertes Sentinel arriveront ici.")
		p("")
		p("-- English --")
		p("")
		p("This is a test message from the Rempart backup server %s", server)
		p("for tenant %s, sent %s.", e.Tenant, when(&e.Time))
		p("This notification channel works: Sentinel alerts will arrive here.")
		return b.String()
	case KindAlertClosed:
		p("L'alerte Sentinel n° %d de la collectivité (tenant) %s a été close", e.AlertID, e.Tenant)
		p("le %s par %s.", when(&e.Time), e.ClosedBy)
		p("Sauvegarde concernée : %s (%s)", e.Snapshot, frVerdict(e.Verdict))
		p("Note : %s", e.Note)
		p("")
		p("La politique de rétention s'applique de nouveau aux sauvegardes de cette")
		p("collectivité (sauf si une autre alerte reste ouverte).")
		p("")
		p("-- English --")
		p("")
		p("Sentinel alert #%d of tenant %s was closed %s by %s.", e.AlertID, e.Tenant, when(&e.Time), e.ClosedBy)
		p("Snapshot: %s (%s)", e.Snapshot, e.Verdict)
		p("Note: %s", e.Note)
		p("")
		p("The retention policy applies again to this tenant's snapshots (unless")
		p("another alert is still open).")
		return b.String()
	case KindDrillAlert:
		if e.DrillID == 0 {
			e.requestBody(p, server)
			return b.String()
		}
		fr := "a échoué"
		if e.Result == "slow" {
			fr = "a pris plus de temps que la durée maximale d'interruption (RTO)"
		}
		p("ALERTE n° %d — exercice de restauration, serveur Rempart %s", e.AlertID, server)
		p("")
		p("Collectivité (tenant) : %s", e.Tenant)
		p("Service               : %s", e.Service)
		p("L'exercice de restauration n° %d %s :", e.DrillID, fr)
		for _, r := range e.Reasons {
			p("  - %s", r)
		}
		p("")
		p("Une restauration réelle de ce service pourrait échouer ou dépasser son RTO.")
		p("Voyez le rapport : rempart drill show %d ; corrigez, relancez l'exercice", e.DrillID)
		p("(rempart drill run %s), puis fermez l'alerte : rempart alert close %d --note \"...\"", e.Service, e.AlertID)
		p("Cette alerte ne gèle pas la rétention.")
		p("")
		p("-- English --")
		p("")
		p("ALERT #%d — restore drill, Rempart server %s", e.AlertID, server)
		p("")
		p("Tenant:  %s", e.Tenant)
		p("Service: %s", e.Service)
		p("Restore drill #%d %s:", e.DrillID, strings.ToUpper(e.Result))
		for _, r := range e.Reasons {
			p("  - %s", r)
		}
		p("")
		p("A real recovery of this service could fail or take longer than its RTO.")
		p("See the report: rempart drill show %d; fix it, run the drill again", e.DrillID)
		p("(rempart drill run %s), then close the alert: rempart alert close %d --note \"...\"", e.Service, e.AlertID)
		p("This alert does not freeze retention.")
		return b.String()
	}
	clean := e.CleanSnapshot
	restoreFR, restoreEN := "rempart restore "+clean+" --target DOSSIER", "rempart restore "+clean+" --target DIR"
	if clean == "" {
		restoreFR = "(aucune sauvegarde saine plus ancienne de cette machine : choisissez-en une avec `rempart snapshots`)"
		restoreEN = "(no earlier clean snapshot of this machine: pick one with `rempart snapshots`)"
	}
	id := strconv.FormatInt(e.AlertID, 10)

	p("ALERTE SENTINEL n° %s — serveur de sauvegarde Rempart %s", id, server)
	p("")
	p("Collectivité (tenant) : %s", e.Tenant)
	p("Sauvegarde (snapshot) : %s", e.Snapshot)
	p("Verdict               : %s", frVerdict(e.Verdict))
	p("Envoyée par           : %s", e.source())
	p("Reçue le              : %s", when(e.Received))
	if clean != "" {
		p("Dernière sauvegarde saine de cette machine : %s (reçue le %s), GELÉE", clean, when(e.CleanReceived))
	}
	p("")
	p("La machine qui a envoyé cette sauvegarde chiffre peut-être des fichiers")
	p("(rançongiciel). Tant que l'alerte est ouverte, le serveur ne supprime aucune")
	p("sauvegarde de cette collectivité.")
	p("")
	p("Que faire maintenant :")
	p("1. Isolez du réseau la machine %s ; ne l'éteignez pas si une analyse est prévue.", e.source())
	p("2. Voyez l'alerte : rempart alert show %s", id)
	p("3. Restaurez depuis la dernière sauvegarde saine, sur une machine propre :")
	p("   %s", restoreFR)
	p("4. Une fois l'incident traité, fermez l'alerte avec une note :")
	p("   rempart alert close %s --note \"...\"", id)
	p("")
	p("-- English --")
	p("")
	p("SENTINEL ALERT #%s — Rempart backup server %s", id, server)
	p("")
	p("Tenant:   %s", e.Tenant)
	p("Snapshot: %s", e.Snapshot)
	p("Verdict:  %s", strings.ToUpper(e.Verdict))
	p("Sent by:  %s", e.source())
	p("Received: %s", when(e.Received))
	if clean != "" {
		p("Last clean snapshot of this machine: %s (received %s), FROZEN", clean, when(e.CleanReceived))
	}
	p("")
	p("The machine that sent this snapshot may be encrypting files (ransomware).")
	p("While the alert is open, the server deletes none of this tenant's snapshots.")
	p("")
	p("What to do next:")
	p("1. Take machine %s off the network; do not power it off if it will be examined.", e.source())
	p("2. Look at the alert: rempart alert show %s", id)
	p("3. Restore from the last clean snapshot, onto a clean machine:")
	p("   %s", restoreEN)
	p("4. Once the incident is handled, close the alert with a note:")
	p("   rempart alert close %s --note \"...\"", id)
	return b.String()
}

func frVerdict(v string) string {
	switch v {
	case "infected":
		return "INFECTÉE"
	case "suspect":
		return "SUSPECTE"
	}
	return strings.ToUpper(v)
}

// severity is the syslog severity of the event (RFC 5424, 6.2.1).
func (e Event) severity() int {
	switch {
	case e.Kind == KindAlertOpen && e.Verdict == "infected":
		return 1 // alert: action must be taken immediately
	case e.Kind == KindAlertOpen, e.Kind == KindDrillAlert:
		return 4 // warning
	case e.Kind == KindAlertClosed:
		return 5 // notice
	}
	return 6 // informational
}
