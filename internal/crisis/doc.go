// Package crisis is the crisis room relay (docs/crisis-e2ee.md): rooms,
// invitations, membership rules, epochs, ciphertext storage and live
// fan-out over WebSockets. It never holds a key that decrypts content: it
// checks signatures and chains with public keys only (package e2ee's public
// half), stores the signed bodies as they came, and hands them out in the
// order it gave them.
//
// The pieces, from the bottom up:
//
//   - Store: persistence (rooms, members with hashed tokens, one-time
//     invitations, roster history, wrap bundles indexed by recipient, events
//     with per-room positions, blob metadata). Operations that must be atomic
//     (consuming an invitation, appending an event, applying a roster) take
//     a check function that the store runs inside its transaction, on the
//     state it read there; the rules live in this package, not in SQL.
//   - Service: the rules of the spec (who may do what, roster transitions,
//     envelope acceptance), pure Go on top of a Store.
//   - Handler: the HTTP API under /v1/crisis/ and the WebSocket hub.
//   - Calls (call.go, callhub.go, callsignal.go): the audio and video of
//     the room. The relay admits members to the SFU (package sfu) and
//     carries its signalling on a second WebSocket; it ends a removed
//     member's call with its room WebSocket and tells the others when the
//     epoch changes, since browsers derive their media keys (SFrame) from
//     the epoch's sender keys. Media never passes through the relay.
//
// Platform accounts (creating and listing rooms) are checked through the
// Accounts interface, which the server implements with its own sessions.
package crisis
