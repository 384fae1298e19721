// Command tamper alters one stored crisis room event in a stopped server's
// SQLite database, as an attacker holding the server's disk would: it flips
// one byte of the ciphertext ("ct") inside the stored envelope body and
// leaves every other byte, column and row as it was. The browser end-to-end
// tests (e2e/browser) then check that the members' export names the entry.
//
//	go run ./e2e/browser/tamper --db DATA/rempart.db --hash HASH
//	go run ./e2e/browser/tamper --db DATA/rempart.db --room ROOM --pos POS
//
// It prints what it changed as one JSON object:
// {"room","pos","sender","seq","hash","old_ct","new_ct"}.
// Only for tests: never run it on a real server's data.
package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	_ "modernc.org/sqlite"
)

type result struct {
	Room   string `json:"room"`
	Pos    int64  `json:"pos"`
	Sender string `json:"sender"`
	Seq    int64  `json:"seq"`
	Hash   string `json:"hash"` // the hash column, unchanged (the server's record of the original)
	OldCT  string `json:"old_ct"`
	NewCT  string `json:"new_ct"`
}

func main() {
	dbPath := flag.String("db", "", "the server's SQLite database (DATA/rempart.db); the server must be stopped")
	hash := flag.String("hash", "", "the hash (b64u) of the envelope to alter")
	room := flag.String("room", "", "room id, with --pos")
	pos := flag.Int64("pos", 0, "position of the event to alter in --room")
	byteIdx := flag.Int("byte", 0, "which ciphertext byte to flip (negative: from the end)")
	flag.Parse()
	if *dbPath == "" || (*hash == "") == (*room == "" || *pos == 0) {
		fmt.Fprintln(os.Stderr, "usage: tamper --db DATA/rempart.db (--hash HASH | --room ROOM --pos POS) [--byte N]")
		os.Exit(2)
	}
	r, err := run(context.Background(), *dbPath, *hash, *room, *pos, *byteIdx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tamper:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "tamper:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dbPath, hash, room string, pos int64, byteIdx int) (result, error) {
	var r result
	if _, err := os.Stat(dbPath); err != nil {
		return r, err
	}
	// No _txlock=immediate surprises: one plain transaction, and a busy
	// timeout in case the server has not quite let go of the file.
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_busy_timeout=10000&_foreign_keys=1")
	if err != nil {
		return r, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return r, err
	}
	defer func() { _ = tx.Rollback() }()

	var body string
	q := `SELECT room_id, pos, sender, seq, hash, body FROM crisis_events WHERE hash = ?`
	args := []any{hash}
	if hash == "" {
		q = `SELECT room_id, pos, sender, seq, hash, body FROM crisis_events WHERE room_id = ? AND pos = ?`
		args = []any{room, pos}
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return r, fmt.Errorf("read crisis_events: %w", err)
	}
	n := 0
	for rows.Next() {
		n++
		if err := rows.Scan(&r.Room, &r.Pos, &r.Sender, &r.Seq, &r.Hash, &body); err != nil {
			rows.Close()
			return r, err
		}
	}
	if err := rows.Close(); err != nil {
		return r, err
	}
	if err := rows.Err(); err != nil {
		return r, err
	}
	switch {
	case n == 0:
		return r, errors.New("no such event in crisis_events")
	case n > 1:
		return r, fmt.Errorf("%d events match: give --room and --pos", n)
	}

	newBody, oldCT, newCT, err := flipCT(body, byteIdx)
	if err != nil {
		return r, fmt.Errorf("event %s #%d: %w", r.Room, r.Pos, err)
	}
	r.OldCT, r.NewCT = oldCT, newCT
	res, err := tx.ExecContext(ctx, `UPDATE crisis_events SET body = ? WHERE room_id = ? AND pos = ?`, newBody, r.Room, r.Pos)
	if err != nil {
		return r, fmt.Errorf("update crisis_events: %w", err)
	}
	if k, err := res.RowsAffected(); err != nil || k != 1 {
		return r, fmt.Errorf("update crisis_events: %d rows changed (%v)", k, err)
	}
	if err := tx.Commit(); err != nil {
		return r, err
	}
	// Fold the WAL back into the database file, so that the change is in
	// rempart.db itself whatever the server does with the WAL at start.
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return r, fmt.Errorf("checkpoint: %w", err)
	}
	return r, nil
}

// flipCT returns body with one byte of its "ct" field's decoded value
// flipped, re-encoded in place: only the characters of that field change.
func flipCT(body string, byteIdx int) (newBody, oldCT, newCT string, err error) {
	var env struct {
		CT *string `json:"ct"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		return "", "", "", fmt.Errorf("stored body is not JSON: %w", err)
	}
	if env.CT == nil || *env.CT == "" {
		return "", "", "", errors.New(`stored body has no "ct"`)
	}
	oldCT = *env.CT
	ct, err := base64.RawURLEncoding.DecodeString(oldCT)
	if err != nil {
		return "", "", "", fmt.Errorf(`"ct" is not b64u: %w`, err)
	}
	i := byteIdx
	if i < 0 {
		i += len(ct)
	}
	if i < 0 || i >= len(ct) {
		return "", "", "", fmt.Errorf("byte %d out of range (ciphertext is %d bytes)", byteIdx, len(ct))
	}
	ct[i] ^= 0x01
	newCT = base64.RawURLEncoding.EncodeToString(ct)
	field := `"ct":"` + oldCT + `"`
	if strings.Count(body, field) != 1 {
		return "", "", "", errors.New(`cannot find the "ct" field exactly once in the body text`)
	}
	return strings.Replace(body, field, `"ct":"`+newCT+`"`, 1), oldCT, newCT, nil
}
