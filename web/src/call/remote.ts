// What this client knows of the others in the call, from the server's
// "participants", "tracks", "mute", "speaker", "leave" and "layer"
// messages; and which simulcast layer to ask for each received camera (the
// stage wants the full layer, small tiles a lower one). Pure: unit tested
// without WebRTC.
import type { Layer, ServerMessage, TrackInfo } from './signalling';

export const trackKey = (participant: string, track: string) => `${participant}|${track}`;

/** A camera is published with simulcast (rids); a screen share without. */
export function isScreen(t: TrackInfo): boolean {
  return t.kind === 'video' && (t.layers?.length ?? 0) === 0;
}

export interface Person {
  id: string;
  audio?: TrackInfo;
  camera?: TrackInfo;
  screen?: TrackInfo;
}

export class RemoteState {
  tracks: TrackInfo[] = [];
  /** everyone else in the call, tracks or not (server "participants") */
  present: string[] = [];
  /** the dominant speaker, as the server last said */
  speaker: string | undefined;
  /** loudness per participant (127 - dBov), from the last speaker message */
  levels = new Map<string, number>();
  /** the layer the server says it forwards, per participant|track */
  forwarded = new Map<string, string>();

  /** self: this client's participant id, left out of "participants" */
  constructor(readonly self?: string) {}

  /** Applies a server message; true when something shown may have changed. */
  apply(m: ServerMessage): boolean {
    switch (m.type) {
      case 'tracks': {
        this.tracks = (Array.isArray(m.tracks) ? m.tracks : []).filter(
          (t) => t && typeof t.participant === 'string' && typeof t.track === 'string' && (t.kind === 'audio' || t.kind === 'video'),
        );
        const keep = new Set(this.tracks.map((t) => trackKey(t.participant, t.track)));
        for (const k of [...this.forwarded.keys()]) if (!keep.has(k)) this.forwarded.delete(k);
        return true;
      }
      case 'mute': {
        const t = this.tracks.find((x) => x.participant === m.participant && x.track === m.track);
        if (!t) return false;
        t.muted = !!m.muted;
        return true;
      }
      case 'speaker': {
        this.speaker = m.participant || undefined;
        this.levels = new Map((m.speakers ?? []).map((s) => [s.participant, s.level]));
        return true;
      }
      case 'participants': {
        this.present = (Array.isArray(m.participants) ? m.participants : []).filter((id) => typeof id === 'string' && id !== '' && id !== this.self);
        return true;
      }
      case 'leave': {
        if (!m.participant) return false;
        this.present = this.present.filter((id) => id !== m.participant);
        this.tracks = this.tracks.filter((t) => t.participant !== m.participant);
        if (this.speaker === m.participant) this.speaker = undefined;
        this.levels.delete(m.participant);
        return true;
      }
      case 'layer': {
        this.forwarded.set(trackKey(m.participant, m.track), m.layer ?? '');
        return true;
      }
      default:
        return false;
    }
  }

  byMid(mid: string | null | undefined): TrackInfo | undefined {
    if (mid == null) return undefined;
    return this.tracks.find((t) => t.mid === mid);
  }

  /**
   * The others in the call: those whose tracks this client receives, in the
   * server's order, then those who publish nothing (listening only).
   */
  people(): Person[] {
    const out = new Map<string, Person>();
    for (const t of this.tracks) {
      let p = out.get(t.participant);
      if (!p) out.set(t.participant, (p = { id: t.participant }));
      if (t.kind === 'audio') p.audio ??= t;
      else if (isScreen(t)) p.screen ??= t;
      else p.camera ??= t;
    }
    for (const id of this.present) if (!out.has(id)) out.set(id, { id });
    return [...out.values()];
  }

  /**
   * Who takes the large tile: the one pinned, else someone sharing a screen,
   * else the dominant speaker, else the first person.
   */
  stage(pinned?: string): string | undefined {
    const people = this.people();
    if (pinned && people.some((p) => p.id === pinned)) return pinned;
    const sharing = people.find((p) => p.screen && !p.screen.muted);
    if (sharing) return sharing.id;
    if (this.speaker && people.some((p) => p.id === this.speaker)) return this.speaker;
    return people[0]?.id;
  }
}

/**
 * The layer to ask for each received camera: "f" on the stage, then "h"
 * while the small tiles are few and large, "q" beyond four. Screen shares
 * have no layers and are left alone.
 */
export function wantedLayers(r: RemoteState, stage: string | undefined, screenOnStage: boolean): Map<string, Layer> {
  const out = new Map<string, Layer>();
  const cams = r.tracks.filter((t) => t.kind === 'video' && !isScreen(t));
  const small: Layer = cams.length > 4 ? 'q' : 'h';
  for (const t of cams) {
    // A screen share takes the stage: its sharer's camera is a small tile.
    const big = t.participant === stage && !screenOnStage;
    out.set(trackKey(t.participant, t.track), big ? 'f' : small);
  }
  return out;
}
