// The newcomer wrap rule (docs/crisis-e2ee.md, "Wrap bundle"): a member
// admitted in the middle of an epoch gets each sender's chain at the index
// of the sender's first envelope at or after its admission position
// (`visible_from`, from the relay), whatever the devices' clocks say and
// whatever the order in which the sender learns of the admission.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { RoomClient } from '../src/protocol/room';
import { Store } from '../src/store/db';
import { coordinatorRoom, pendingDevice, useFakeRelay } from './inroom';

const relay = useFakeRelay();
let n = 0;

const device = () => Store.open(`admission-${++n}`);


async function admit(coord: RoomClient, c: RoomClient): Promise<void> {
  await coord.sync();
  await coord.admit(coord.pending.find((p) => p.id === c.memberId)!);
}

async function setup(names: string[]) {
  const { room, coord } = await coordinatorRoom(await device());
  const members: RoomClient[] = [];
  for (const name of names) {
    const m = await pendingDevice(coord, await device(), name);
    await admit(coord, m);
    await m.sync();
    members.push(m);
  }
  for (const c of [coord, ...members]) await c.sync();
  return { room, coord, members };
}

const chat = (text: string) => ({ t: 'chat' as const, text, reply_to: null, files: [] });
const texts = (c: RoomClient) => c.list.map((i) => (i.content && 'text' in i.content ? i.content.text : undefined)).filter(Boolean);
const posOf = (text: string, c: RoomClient) => c.list.find((i) => i.content && 'text' in i.content && i.content.text === text)!.pos;

/**
 * What the newcomer can decrypt among everything the relay stores, by
 * position: exactly the entries from its admission on (no key for an
 * earlier one, none missing for a later one).
 */
async function readable(room: string, c: RoomClient): Promise<number[]> {
  const out: number[] = [];
  for (const e of relay().stored(room)) if ((await c.tryDecrypt([e])).ok) out.push(e.pos);
  return out;
}

describe('a member admitted while others write', () => {
  for (const [what, skew] of [
    ['the relay\u2019s clock behind the coordinator\u2019s', -60_000],
    ['the relay\u2019s clock ahead of the coordinator\u2019s', 60_000],
    ['the same clocks', 0],
  ] as const) {
    it(`reads an entry written as it is admitted, and nothing before (${what})`, async () => {
      const { room, coord, members } = await setup(['Maire']);
      const [maire] = members;
      relay().skewMs = skew;
      await maire.send(chat('avant'));
      const late = await pendingDevice(coord, await device(), 'Tardif');
      // The coordinator admits Tardif; Maire, who has not heard of it yet,
      // writes at that moment: her entry comes after the admission.
      await admit(coord, late);
      await maire.send(chat('pendant'));
      const from = relay().stored(room).length; // 'pendant' is the last entry
      await maire.sync(); // learns the roster and Tardif's position: wraps
      await maire.send(chat('après'));
      await late.sync();
      expect(texts(late)).toEqual(expect.arrayContaining(['pendant', 'après']));
      expect(texts(late)).not.toContain('avant');
      expect(late.summary().failed).toBe(0);
      expect(late.list.every((i) => i.content !== undefined)).toBe(true); // no entry unreadable
      const start = posOf('pendant', late);
      expect(start).toBe(from);
      const stored = relay().stored(room).map((e) => e.pos);
      expect(await readable(room, late)).toEqual(stored.filter((p) => p >= late.list[0].pos));
      expect(await readable(room, late)).not.toContain(posOf('avant', maire));
    });
  }

  it('an entry kept in the outbox while offline, sent after the admission, is readable', async () => {
    const { room, coord, members } = await setup(['Maire']);
    const [maire] = members;
    await maire.send(chat('en ligne'));
    relay().offline.add(maire.rec.token);
    await maire.send(chat('hors ligne')); // sealed, not sent
    expect(maire.outboxCount).toBe(1);
    const late = await pendingDevice(coord, await device(), 'Tardif');
    await admit(coord, late);
    relay().offline.delete(maire.rec.token);
    await maire.sync(); // sends the entry, then Tardif's wrap at its index
    expect(maire.outboxCount).toBe(0);
    await late.sync();
    expect(texts(late)).toContain('hors ligne');
    expect(texts(late)).not.toContain('en ligne');
    expect(late.list.every((i) => i.content !== undefined)).toBe(true);
    expect(await readable(room, late)).toEqual(relay().stored(room).map((e) => e.pos).filter((p) => p >= late.list[0].pos));
  });

  it('several admissions in a row: each newcomer reads from its own admission', async () => {
    const { room, coord, members } = await setup(['Maire']);
    const [maire] = members;
    await maire.send(chat('avant'));
    const a = await pendingDevice(coord, await device(), 'A');
    const b = await pendingDevice(coord, await device(), 'B');
    await admit(coord, a);
    await maire.send(chat('entre les deux'));
    await admit(coord, b);
    await maire.send(chat('après les deux'));
    await maire.sync();
    await a.sync();
    await b.sync();
    expect(texts(a)).toEqual(expect.arrayContaining(['entre les deux', 'après les deux']));
    expect(texts(b)).toContain('après les deux');
    expect(texts(b)).not.toContain('entre les deux');
    for (const c of [a, b]) {
      expect(c.list.every((i) => i.content !== undefined)).toBe(true);
      expect(await readable(room, c)).toEqual(relay().stored(room).map((e) => e.pos).filter((p) => p >= c.list[0].pos));
    }
  });

  it('an admission then at once a removal (new epoch): the entry written in between is readable', async () => {
    const { room, coord, members } = await setup(['Maire', 'DGS']);
    const [maire, dgs] = members;
    await maire.send(chat('avant'));
    const late = await pendingDevice(coord, await device(), 'Tardif');
    await admit(coord, late);
    await maire.send(chat('pendant')); // epoch 1, after the admission
    await coord.remove(dgs.memberId); // epoch 2 before Maire heard of Tardif
    await maire.sync(); // owes Tardif her epoch-1 chain from 'pendant'
    await maire.send(chat('époque 2'));
    await late.sync();
    expect(texts(late)).toEqual(expect.arrayContaining(['pendant', 'époque 2']));
    expect(texts(late)).not.toContain('avant');
    expect(late.list.every((i) => i.content !== undefined)).toBe(true);
    expect(late.summary().failed).toBe(0);
    expect(await readable(room, late)).toEqual(relay().stored(room).map((e) => e.pos).filter((p) => p >= late.list[0].pos));
  });

  it('a member who has not written in the epoch hands its chain with its first entry', async () => {
    const { room, coord, members } = await setup(['Maire', 'DGS']);
    const [maire, dgs] = members;
    await maire.send(chat('Maire seule'));
    const late = await pendingDevice(coord, await device(), 'Tardif');
    await admit(coord, late);
    await dgs.sync(); // DGS has no chain yet: nothing to send
    await dgs.send(chat('premier de DGS'));
    await maire.sync();
    await late.sync();
    expect(texts(late)).toContain('premier de DGS');
    expect(late.list.every((i) => i.content !== undefined)).toBe(true);
    expect(await readable(room, late)).toEqual(relay().stored(room).map((e) => e.pos).filter((p) => p >= late.list[0].pos));
  });
});
