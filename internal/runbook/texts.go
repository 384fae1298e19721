package runbook

import (
	"fmt"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/continuity"
)

// text holds a language's words.
type text struct {
	title, versionFmt, tenant, planVersion, saved, by, reviewed, never, generatedOn, services   string
	keepOffline, problemsSummary, contents                                                      string
	firstHour, firstHourIntro, reflexSource                                                     string
	reflexes                                                                                    []string
	stepDone                                                                                    string // under each step
	directory, directoryIntro                                                                   string
	contactHead                                                                                 []string
	national                                                                                    [][]string
	crisisRoom, crisisRoomIntro, crisisRoomUnknown, crisisURL, caFingerprint, caHow             string
	keysTitle, keysMissing, keysNever                                                           string
	order, orderIntro, wave, afterWave, inParallel, noService, unordered, unorderedShort        string
	orderHead                                                                                   []string
	problems, noProblem, warning, errorLabel                                                    string
	sheets, placeInOrder, criticality, rtoMeans, rpoMeans, owner, none                          string
	dependsOn, sources, noSource, notChecked, assets, fallback, noFallback, contacts, noContact string
	sourceHead                                                                                  []string
	status                                                                                      map[string]string
	recoveryLog                                                                                 string
	recoveryFields                                                                              []string
	logbook, logbookIntro                                                                       string
	logHead                                                                                     []string
	page, generatedFooter, confidential                                                         string
	crit                                                                                        [5]string
}

var texts = map[string]*text{
	"fr": {
		title:           "Runbook de reprise",
		versionFmt:      "plan version %d",
		tenant:          "Collectivité",
		planVersion:     "Version du plan",
		saved:           "Enregistrée le",
		by:              "par",
		reviewed:        "Dernière revue",
		never:           "jamais",
		generatedOn:     "Document généré le",
		services:        "Services",
		keepOffline:     "Gardez un exemplaire imprimé hors ligne : dans la mallette de crise, dans le coffre de la mairie et chez le chef de la cellule de crise. Imprimez-le de nouveau à chaque version du plan. Ce document contient des noms et des numéros de téléphone : ne le laissez pas traîner. Il ne contient aucune clé ni aucun mot de passe.",
		problemsSummary: "Le plan a %d erreur(s) et %d avertissement(s) qui gêneraient la reprise : voir « Ordre de reprise ».",
		contents:        "Sommaire",
		firstHour:       "La première heure",
		firstHourIntro:  "Dès qu'une attaque est suspectée (fichiers illisibles ou renommés, message de rançon, alerte Sentinel), suivez ces étapes dans l'ordre. Cochez chaque case, notez l'heure et qui l'a fait.",
		reflexes: []string{
			"Isoler : débranchez du réseau les machines touchées (câble, Wi-Fi) sans les éteindre : leur mémoire garde des traces utiles à l'enquête. Ne supprimez rien, ne réinstallez rien. Gardez les sauvegardes hors d'atteinte du réseau.",
			"Ouvrir la main courante : notez dès maintenant chaque fait, action et décision, avec l'heure et son auteur (page « Main courante » à la fin de ce document, ou journal de la salle de crise).",
			"Alerter la cellule de crise : appelez les personnes de l'annuaire de crise et réunissez-les dans la salle de crise (adresse et QR code plus loin) ou sur place. N'utilisez pas la messagerie de la mairie : elle peut être compromise.",
			"Demander de l'aide : signalez l'incident au CERT-FR de l'ANSSI (cert.ssi.gouv.fr ; son numéro, à recopier dans l'annuaire de crise) et prévenez votre prestataire informatique.",
			"Ne pas payer la rançon ; ne pas contacter les attaquants.",
			"Porter plainte auprès de la police ou de la gendarmerie ; gardez le récépissé (l'assureur le demandera).",
			"Données personnelles : si des données personnelles ont pu être atteintes, notifiez la CNIL dans les 72 heures (cnil.fr).",
			"NIS2 : si la collectivité est une entité concernée, alerte précoce à l'ANSSI dans les 24 heures, notification de l'incident dans les 72 heures, rapport final dans le mois.",
			"Prévenir l'assureur et les élus ; faire valider chaque message avant de le diffuser aux agents et au public.",
			"Puis restaurer : suivez l'ordre de reprise, vague par vague, à partir de sauvegardes saines, sur des machines propres ou reconstruites, jamais sur les machines compromises.",
		},
		stepDone:       "Fait à ____ h ____   par ______________________",
		reflexSource:   "Ces premiers gestes reprennent les fiches réflexes du CERT-FR (cert.ssi.gouv.fr, rubrique « Fiches réflexes ») et les recommandations de l'ANSSI. Elles évoluent : relisez-les à chaque revue du plan.",
		directory:      "Annuaire de crise",
		directoryIntro: "Les contacts du plan, puis les contacts nationaux. Complétez à la main ce qui manque et vérifiez les numéros à chaque revue du plan.",
		contactHead:    []string{"Nom", "Rôle", "Téléphone", "Courriel / site"},
		national: [][]string{
			{"CERT-FR (ANSSI)", "signalement d'incident", "", "cert.ssi.gouv.fr"},
			{"Police / gendarmerie", "plainte ; urgence", "17", ""},
			{"CNIL", "violation de données personnelles (72 h)", "", "cnil.fr"},
			{"Assureur", "déclaration de sinistre (contrat cyber)", "", ""},
		},
		crisisRoom:        "Salle de crise et clés de secours",
		crisisRoomIntro:   "La salle de crise Rempart fonctionne sans Internet, sur le réseau local : messagerie, main courante et appels chiffrés de bout en bout. Ouvrez cette adresse ou scannez le QR code avec un téléphone ou un ordinateur sain.",
		crisisRoomUnknown: "Ce document a été généré sans l'adresse du serveur : notez-la ici à la main.",
		crisisURL:         "Adresse de la salle de crise",
		caFingerprint:     "Empreinte SHA-256 de l'autorité de certification locale",
		caHow:             "La première fois, téléchargez le certificat de l'autorité (%s), installez-le comme autorité de confiance et vérifiez que son empreinte est exactement celle ci-dessus. Si elle diffère, n'allez pas plus loin : ce n'est pas votre serveur.",
		keysTitle:         "Où sont gardées les clés de secours",
		keysMissing:       "Le plan ne dit pas où sont gardées les clés de secours : écrivez-le ci-dessous à la main, et ajoutez recovery_keys_location au plan.",
		keysNever:         "Ce document ne contient aucune clé ni aucun mot de passe : seulement l'endroit où ils sont gardés.",
		order:             "Ordre de reprise",
		orderIntro:        "Restaurez les services vague par vague : une vague commence quand les services dont elle dépend fonctionnent. Les services d'une même vague peuvent être restaurés en parallèle ; le numéro donne l'ordre pour une personne seule. RTO : durée d'interruption maximale admise. RPO : perte de données maximale admise (âge maximal de la dernière sauvegarde).",
		wave:              "Vague %d",
		afterWave:         ", après la vague %d",
		inParallel:        ", en parallèle",
		noService:         "Le plan ne compte encore aucun service.",
		unordered:         "Impossible à placer dans l'ordre (cycle de dépendances) : ",
		unorderedShort:    "hors ordre (cycle de dépendances)",
		orderHead:         []string{"N°", "Service", "Criticité", "RTO", "RPO", "Responsable", "Fait à"},
		problems:          "Problèmes",
		noProblem:         "Aucun problème trouvé.",
		warning:           "Attention : ",
		errorLabel:        "ERREUR : ",
		sheets:            "Fiches des services (%d), dans l'ordre de reprise",
		placeInOrder:      "Place dans l'ordre",
		criticality:       "Criticité",
		rtoMeans:          "interruption maximale admise",
		rpoMeans:          "perte de données maximale admise",
		owner:             "Responsable",
		none:              "(non renseigné)",
		dependsOn:         "Dépend de (à restaurer avant)",
		sources:           "Sauvegardes à restaurer",
		noSource:          "Aucune source de sauvegarde dans le plan.",
		notChecked:        "non vérifiée",
		assets:            "Autres éléments nécessaires",
		fallback:          "Procédure dégradée (pendant l'interruption)",
		noFallback:        "Le plan ne donne pas de procédure dégradée pour ce service.",
		contacts:          "Contacts",
		noContact:         "Aucun contact propre à ce service : voir l'annuaire de crise.",
		sourceHead:        []string{"Machine", "Dossier", "Dernière sauvegarde saine", "État"},
		status:            map[string]string{"ok": "à jour", "stale": "PLUS ANCIENNE QUE LE RPO", "missing": "AUCUNE SAUVEGARDE"},
		recoveryLog:       "Suivi de la restauration",
		recoveryFields:    []string{"Restauré depuis la sauvegarde du :", "Restauration commencée à (heure, par qui) :", "Service vérifié et rouvert à (heure, par qui) :"},
		logbook:           "Main courante",
		logbookIntro:      "Une ligne par fait, action ou décision, avec l'heure et son auteur. N'effacez rien : barrez et réécrivez. Photocopiez cette page si besoin.",
		logHead:           []string{"Heure", "Qui", "Fait, action ou décision"},
		page:              "page",
		generatedFooter:   "généré le",
		confidential:      "Diffusion restreinte",
		crit:              [5]string{"", "vital", "essentiel", "important", "différable"},
	},
	"en": {
		title:           "Recovery runbook",
		versionFmt:      "plan version %d",
		tenant:          "Organisation",
		planVersion:     "Plan version",
		saved:           "Saved",
		by:              "by",
		reviewed:        "Last review",
		never:           "never",
		generatedOn:     "Document generated",
		services:        "Services",
		keepOffline:     "Keep a printed copy offline: in the crisis kit, in the town hall's safe and at the home of the head of the crisis cell. Print it again for every new version of the plan. This document holds names and phone numbers: do not leave it lying about. It holds no key and no password.",
		problemsSummary: "The plan has %d error(s) and %d warning(s) that would hinder a recovery: see \"Recovery order\".",
		contents:        "Contents",
		firstHour:       "The first hour",
		firstHourIntro:  "As soon as an attack is suspected (files unreadable or renamed, a ransom note, a Sentinel alert), follow these steps in order. Tick each box, write down the time and who did it.",
		reflexes: []string{
			"Isolate: disconnect the affected machines from the network (cable, Wi-Fi) without switching them off: their memory holds traces the investigation needs. Delete nothing, reinstall nothing. Keep the backups out of the network's reach.",
			"Open the logbook: from now on write down every fact, action and decision, with the time and who (the \"Logbook\" page at the end of this document, or the crisis room's logbook).",
			"Alert the crisis cell: call the people of the crisis directory and gather them in the crisis room (address and QR code further on) or in person. Do not use the town's e-mail: it may be compromised.",
			"Get help: report the incident to ANSSI's CERT-FR (cert.ssi.gouv.fr; copy its phone number into the crisis directory) and warn your IT provider.",
			"Do not pay the ransom; do not contact the attackers.",
			"File a complaint with the police or gendarmerie; keep the receipt (the insurer will ask for it).",
			"Personal data: if personal data may have been affected, notify the CNIL within 72 hours (cnil.fr).",
			"NIS2: if the organisation is an entity in scope, early warning to ANSSI within 24 hours, incident notification within 72 hours, final report within one month.",
			"Warn the insurer and the elected officials; have every message approved before it goes to staff and the public.",
			"Then restore: follow the recovery order, wave by wave, from clean backups, onto clean or rebuilt machines, never onto compromised ones.",
		},
		stepDone:       "Done at ____ : ____   by ______________________",
		reflexSource:   "These first steps follow CERT-FR's reflex sheets (cert.ssi.gouv.fr, \"Fiches réflexes\") and ANSSI's guidance. They change: read them again at every review of the plan.",
		directory:      "Crisis directory",
		directoryIntro: "The plan's contacts, then national contacts. Fill in by hand what is missing and check the numbers at every review of the plan.",
		contactHead:    []string{"Name", "Role", "Phone", "E-mail / website"},
		national: [][]string{
			{"CERT-FR (ANSSI)", "incident reporting", "", "cert.ssi.gouv.fr"},
			{"Police / gendarmerie", "complaint; emergency", "17", ""},
			{"CNIL", "personal data breach (72 h)", "", "cnil.fr"},
			{"Insurer", "claim (cyber policy)", "", ""},
		},
		crisisRoom:        "Crisis room and recovery keys",
		crisisRoomIntro:   "Rempart's crisis room works without the Internet, on the local network: end-to-end encrypted chat, logbook and calls. Open this address or scan the QR code with a clean phone or computer.",
		crisisRoomUnknown: "This document was generated without the server's address: write it here by hand.",
		crisisURL:         "Address of the crisis room",
		caFingerprint:     "SHA-256 fingerprint of the local certificate authority",
		caHow:             "The first time, download the authority's certificate (%s), install it as a trusted authority and check that its fingerprint is exactly the one above. If it differs, stop: this is not your server.",
		keysTitle:         "Where the recovery keys are kept",
		keysMissing:       "The plan does not say where the recovery keys are kept: write it below by hand, and add recovery_keys_location to the plan.",
		keysNever:         "This document holds no key and no password: only where they are kept.",
		order:             "Recovery order",
		orderIntro:        "Restore the services wave by wave: a wave starts when the services it depends on run. The services of one wave can be restored in parallel; the number is the order for a single person. RTO: the longest the service may stay down. RPO: the most recent data it may lose (how old its latest backup may be).",
		wave:              "Wave %d",
		afterWave:         ", after wave %d",
		inParallel:        ", in parallel",
		noService:         "The plan has no service yet.",
		unordered:         "Cannot be placed in the order (dependency cycle): ",
		unorderedShort:    "not in the order (dependency cycle)",
		orderHead:         []string{"#", "Service", "Criticality", "RTO", "RPO", "Owner", "Done at"},
		problems:          "Problems",
		noProblem:         "No problem found.",
		warning:           "Warning: ",
		errorLabel:        "ERROR: ",
		sheets:            "Service sheets (%d), in recovery order",
		placeInOrder:      "Place in the order",
		criticality:       "Criticality",
		rtoMeans:          "longest time it may stay down",
		rpoMeans:          "most recent data it may lose",
		owner:             "Owner",
		none:              "(not given)",
		dependsOn:         "Depends on (restore first)",
		sources:           "Backups to restore",
		noSource:          "No backup source in the plan.",
		notChecked:        "not checked",
		assets:            "Other things it needs",
		fallback:          "Fallback procedure (while it is down)",
		noFallback:        "The plan gives no fallback procedure for this service.",
		contacts:          "Contacts",
		noContact:         "No contact of its own: see the crisis directory.",
		sourceHead:        []string{"Machine", "Folder", "Latest clean backup", "Status"},
		status:            map[string]string{"ok": "up to date", "stale": "OLDER THAN THE RPO", "missing": "NO BACKUP"},
		recoveryLog:       "Recovery record",
		recoveryFields:    []string{"Restored from the backup of:", "Restore started at (time, by whom):", "Service checked and reopened at (time, by whom):"},
		logbook:           "Logbook",
		logbookIntro:      "One line per fact, action or decision, with the time and who. Erase nothing: strike through and write again. Photocopy this page if needed.",
		logHead:           []string{"Time", "Who", "Fact, action or decision"},
		page:              "page",
		generatedFooter:   "generated",
		confidential:      "Restricted",
		crit:              [5]string{"", "vital", "essential", "important", "deferrable"},
	},
}

// problemText is a problem in the runbook's language (the plan's API
// gives English messages).
func problemText(lang string, p continuity.Problem, name func(string) string, date func(time.Time) string, dur func(continuity.Duration) string) string {
	if lang != "fr" {
		return p.Message
	}
	src := ""
	if p.Source != nil {
		src = p.Source.String()
	}
	switch p.Kind {
	case continuity.ProblemCycle:
		if len(p.Cycle) > 0 {
			return fmt.Sprintf("cycle de dépendances : %s (chacun dépend du suivant) : aucun ne peut être restauré en premier ; supprimez l'une de ces dépendances (depends_on)", strings.Join(p.Cycle, " → "))
		}
		return fmt.Sprintf("%s ne peut pas être placé dans l'ordre de reprise : il dépend d'un service pris dans un cycle de dépendances", name(p.Service))
	case continuity.ProblemUnknownDependency:
		return fmt.Sprintf("%s dépend de « %s », qui n'est pas un service du plan : ajoutez-le ou corrigez depends_on", name(p.Service), p.Dependency)
	case continuity.ProblemNoSource:
		return fmt.Sprintf("%s n'a aucune source de sauvegarde : ajoutez ses dossiers (sources)", name(p.Service))
	case continuity.ProblemNoSnapshot:
		return fmt.Sprintf("%s : aucune sauvegarde de %s sur le serveur", name(p.Service), src)
	case continuity.ProblemStale:
		return fmt.Sprintf("%s : la dernière sauvegarde de %s date du %s, plus ancienne que le RPO", name(p.Service), src, date(p.Latest))
	}
	return p.Message
}
