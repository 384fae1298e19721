// Views computed from the room's verified items: what each tab shows.
// Recomputed once per room version (memoised), in one pass each.
import type { Item } from '../protocol/room';
import type { ChatContent, ContactContent, StatusContent, TaskContent } from '../protocol/content';

export type LogItem = Item; // t = log | status, or unreadable / failed entries

export interface TaskView {
  id: string; // hash of the creating envelope
  current: TaskContent;
  item: Item; // latest update
  created: Item;
}

export interface ContactView {
  id: string;
  current: ContactContent;
  item: Item;
}

export interface ServiceView {
  service: string;
  current: StatusContent;
  item: Item;
  history: Item[];
}

export interface Views {
  log: LogItem[];
  chat: (Item & { content: ChatContent })[];
  byHash: Map<string, Item>;
  tasks: TaskView[];
  contacts: ContactView[];
  services: ServiceView[];
  decisions: Item[];
  undecryptable: Item[];
}

const memo = new WeakMap<object, { version: number; views: Views }>();

export function views(owner: object, version: number, items: Item[]): Views {
  const m = memo.get(owner);
  if (m && m.version === version) return m.views;
  const v = compute(items);
  memo.set(owner, { version, views: v });
  return v;
}

function compute(items: Item[]): Views {
  const v: Views = { log: [], chat: [], byHash: new Map(), tasks: [], contacts: [], services: [], decisions: [], undecryptable: [] };
  const tasks = new Map<string, TaskView>();
  const contacts = new Map<string, ContactView>();
  const services = new Map<string, ServiceView>();
  for (const it of items) {
    v.byHash.set(it.hash, it);
    const c = it.content;
    if (!it.check.verified) {
      // Whatever it claims to be, an entry that fails verification shows in
      // the logbook, flagged: nothing it says is trusted.
      v.log.push(it);
      continue;
    }
    if (c === undefined || c === null) {
      if (it.check.key !== 'before') {
        v.log.push(it);
        if (c === undefined) v.undecryptable.push(it);
      }
      continue;
    }
    switch (c.t) {
      case 'log':
        v.log.push(it);
        if (c.kind === 'decision') v.decisions.push(it);
        break;
      case 'status': {
        v.log.push(it);
        const key = c.service.trim().toLowerCase();
        const s = services.get(key);
        if (s) {
          s.current = c;
          s.item = it;
          s.history.push(it);
        } else services.set(key, { service: c.service.trim(), current: c, item: it, history: [it] });
        break;
      }
      case 'chat':
        v.chat.push(it as Item & { content: ChatContent });
        break;
      case 'task': {
        const id = c.task ?? it.hash;
        const tv = tasks.get(id);
        if (tv) {
          tv.current = c;
          tv.item = it;
        } else if (!c.task) tasks.set(id, { id, current: c, item: it, created: it });
        break;
      }
      case 'contact': {
        const id = c.contact ?? it.hash;
        const cv = contacts.get(id);
        if (cv) {
          cv.current = c;
          cv.item = it;
        } else if (!c.contact) contacts.set(id, { id, current: c, item: it });
        break;
      }
      case 'meta':
        break;
    }
  }
  v.tasks = [...tasks.values()];
  v.contacts = [...contacts.values()].filter((x) => !x.current.deleted).sort((a, b) => a.current.name.localeCompare(b.current.name));
  v.services = [...services.values()].sort((a, b) => a.service.localeCompare(b.service));
  return v;
}
