// Labels: the first field of every signed or derived input (domain
// separation), format version 1. Same names as internal/crisis/e2ee/wire.go.
export const VERSION = 1;
export const LABEL_JOIN = 'rempart-crisis-join-v1';
export const LABEL_ROSTER = 'rempart-crisis-roster-v1';
export const LABEL_WRAPS = 'rempart-crisis-wraps-v1';
export const LABEL_ENVELOPE = 'rempart-crisis-envelope-v1';
export const LABEL_WRAP_KDF = 'rempart-crisis-wrap-v1';
export const LABEL_CONTENT = 'rempart-crisis-content-v1';
export const LABEL_BLOB = 'rempart-crisis-blob-v1';
export const LABEL_FPR = 'rempart-crisis-fpr-v1';
export const LABEL_ROOM_FPR = 'rempart-crisis-room-v1';
