// Package sentinel owns ransomware detection in what is backed up: what is
// learnt of each file's content while the backup reads it (Observer,
// Features), and the assessment of a whole snapshot against its parent
// (Assess, Report): which files look encrypted, renamed, replaced by ransom
// notes or deleted en masse, whether a canary was touched, and the verdict.
//
// It imports nothing of the vault: the archiver feeds it bytes and tree
// facts, and stores what it returns (Features in tree nodes, the Report in
// the sealed snapshot body, the verdict as a plain flag in the snapshot's
// header). A file is judged against its own previous version first — many
// benign formats (docx, jpg, zip, pdf) are already high-entropy — and
// against absolute rules only when it has none.
//
// CONTRACT (the archiver and the CLI are written against these exported
// names; the implementation behind them may change freely).
package sentinel

// Verdict is the assessment of one snapshot.
type Verdict string

// Verdicts, from best to worst.
const (
	Clean    Verdict = "clean"
	Suspect  Verdict = "suspect"
	Infected Verdict = "infected"
)

// Features is what is learnt of one file's content while it is read for
// backup. It is stored (as JSON) in the file's tree node, so it stays small.
type Features struct {
	// Kind is the format recognised from the magic bytes ("zip", "pdf",
	// "jpeg", "png", "gzip", "ole2", "sqlite", "gpg", "age", "text"...);
	// "" when unknown.
	Kind string `json:"kind,omitempty"`
	// Valid is the container's structure: 1 valid, -1 broken, 0 not
	// checked (a kind without a check, or a file too small).
	Valid int8 `json:"valid,omitempty"`
	// Entropy is in bits per byte over the sampled blocks.
	Entropy float32 `json:"ent"`
	// High is the share of sampled blocks that look like ciphertext.
	High float32 `json:"high,omitempty"`
	// Text is the share of bytes that are printable text.
	Text float32 `json:"text,omitempty"`
	// Canary marks a decoy planted by `rempart canary plant`.
	Canary bool `json:"canary,omitempty"`
	// Note marks text that reads like a ransom note.
	Note bool `json:"note,omitempty"`

	// Chi is the reduced chi-square of the sampled bytes against uniform
	// bytes (chi-square over its 255 degrees of freedom): about 1 for
	// ciphertext whatever the sample size, far above for anything else,
	// compressed formats included when the sample is large.
	Chi float32 `json:"chi,omitempty"`
	// Blocks is how many sampled blocks (of 512 bytes to 4 KiB) High and
	// Stripes are shares of: it says how much they can be trusted.
	Blocks int `json:"blk,omitempty"`
	// Head marks a first block (the header) that looks like ciphertext:
	// header-only and first-megabytes encryption.
	Head bool `json:"r0,omitempty"`
	// Stripes is the share of sampled blocks whose alternate 16-byte
	// stripes differ sharply, one parity ciphertext-like and the other
	// not: "every other 16 bytes" intermittent encryption.
	Stripes float32 `json:"stp,omitempty"`
	// Encoded marks text made only of the base64 (or hex) alphabet with
	// the entropy of encoded random bytes: ciphertext written as text.
	Encoded bool `json:"b64,omitempty"`
}

// Change is one new or changed file of a snapshot.
type Change struct {
	Path string // slash-separated, as in the snapshot
	Size int64
	Cur  Features
	// Prev is the previous version's features (nil: a new file, or a
	// previous version without features).
	Prev *Features
	// ContentKey identifies the content (e.g. a hash of its chunk IDs):
	// equal keys are equal contents, so a renamed file is recognised.
	ContentKey string
}

// Deletion is a file of the parent snapshot that is gone.
type Deletion struct {
	Path       string
	Size       int64
	Prev       *Features
	ContentKey string
}

// Input is everything Assess looks at for one snapshot.
type Input struct {
	Changes   []Change
	Deleted   []Deletion
	Unchanged int // files identical to the parent's
	// Parent is the parent snapshot's report (nil: none, or written
	// without Sentinel) and ParentID its snapshot ID (hex).
	Parent   *Report
	ParentID string
}

// Indicator is one kind of evidence that fired.
type Indicator struct {
	Name   string  `json:"name"`   // "encrypted", "magic_lost", "container_broken", "rename_storm", "ransom_note", "mass_deletion", "canary"...
	Count  int     `json:"count"`  // how many files show it
	Weight float64 `json:"weight"` // its share of the score
	Detail string  `json:"detail,omitempty"`
}

// Affected is one file that looks hit, with where to find it intact.
type Affected struct {
	Path    string   `json:"path"`
	Reasons []string `json:"reasons"`
	// LastClean is the ID (hex) of the latest snapshot that holds the
	// file's last version that did not look hit; "" when none is known.
	LastClean string `json:"last_clean,omitempty"`
	// LastCleanPath is the file's path in that snapshot when it differs
	// (renamed by the attack).
	LastCleanPath string `json:"last_clean_path,omitempty"`
	// Carried marks a file that was already listed in the parent's report
	// and is still hit: a slow attack accumulates, and a snapshot that
	// still holds hit files is no clean restore point.
	Carried bool `json:"carried,omitempty"`
}

// Report is the assessment of one snapshot, stored sealed in its body.
type Report struct {
	Version    int         `json:"version"`
	Verdict    Verdict     `json:"verdict"`
	Score      float64     `json:"score"`
	Indicators []Indicator `json:"indicators,omitempty"`
	Affected   []Affected  `json:"affected,omitempty"`
	Changed    int         `json:"changed"`
	Deleted    int         `json:"deleted"`
}
