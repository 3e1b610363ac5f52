import { promises as fs } from 'node:fs';
import type { Logger } from '../log.js';
import { writeFileDurable } from '../store/durable-file.js';
import type { ReplayTicket, TicketRecord } from './replay-ticket.js';

/**
 * The front door's kept answers written to disk beside the kept files, so that after a restart (power back, every
 * phone at once) a phone's first fetch is a replay rather than a full decision. It is a cache: a crash between
 * saves costs only speed, and every record read back is checked again before it is used (replay-ticket.ts,
 * restoreTicket). Records carry no secret (no body, no password, no URL key).
 *
 * Format: a first line `{"kept-answers":1}`, then one TicketRecord per line. Written whole with the store's
 * durable write, built a thousand records per turn of the loop so a save at 100k phones never holds it.
 */
export interface AnswerSource {
  readonly keptChanges: number;
  answers(): IterableIterator<[string, ReplayTicket]>;
}

export interface KeptAnswersFileOptions {
  /** How often kept answers are written while they change (default 60 s). */
  saveMs?: number;
  /** Larger files are not read (default 512 MiB: over a million answers). */
  maxBytes?: number;
}

const HEADER = '{"kept-answers":1}';
const PER_TURN = 1000;
const STRINGS = ['accountId', 'deviceId', 'vendor', 'model', 'family', 'template', 'name', 'fp', 'userAgent'] as const;
const OPTIONAL = ['uaModel', 'host'] as const;

/** A parsed line as a record, or undefined when it is not one. */
function asRecord(value: unknown): TicketRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (!STRINGS.every((k) => typeof r[k] === 'string') || !OPTIONAL.every((k) => r[k] === undefined || typeof r[k] === 'string')) return undefined;
  if (!Array.isArray(r.userIds) || !r.userIds.every((u) => typeof u === 'string') || typeof r.keyed !== 'boolean') return undefined;
  return r as unknown as TicketRecord;
}

export class KeptAnswersFile {
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> | undefined;
  private savedAt = -1;
  private source: AnswerSource | undefined;
  private readonly saveMs: number;
  private readonly maxBytes: number;

  constructor(
    readonly file: string,
    private readonly log: Logger,
    options: KeptAnswersFileOptions = {},
  ) {
    this.saveMs = options.saveMs ?? 60_000;
    this.maxBytes = options.maxBytes ?? 512 * 1024 * 1024;
  }

  /** The records of the last save; none when there is no file or it cannot be read (said in the log). */
  async load(): Promise<TicketRecord[]> {
    let text: string;
    try {
      const { size } = await fs.stat(this.file);
      if (size > this.maxBytes) {
        this.log.warn('provisioning: kept answers file too large, not read', { file: this.file, bytes: size });
        return [];
      }
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn('provisioning: kept answers file unreadable, not read', { file: this.file, err });
      return [];
    }
    const lines = text.split('\n');
    if (lines[0] !== HEADER) {
      this.log.warn('provisioning: kept answers file of another format, not read', { file: this.file });
      return [];
    }
    const out: TicketRecord[] = [];
    let bad = 0;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (line === '') continue;
      let record: TicketRecord | undefined;
      try {
        record = asRecord(JSON.parse(line));
      } catch {
        record = undefined;
      }
      if (record) out.push(record);
      else bad++;
    }
    if (bad > 0) this.log.warn('provisioning: kept answers file has lines that are not answers, skipped', { file: this.file, skipped: bad });
    return out;
  }

  /** Saves `source`'s answers every `saveMs` while they change. */
  start(source: AnswerSource): void {
    this.source = source;
    this.savedAt = source.keptChanges;
    this.timer ??= setInterval(() => void this.save(), this.saveMs);
    this.timer.unref();
  }

  /** Writes the answers now if they changed since the last save (one save at a time). */
  save(): Promise<void> {
    const source = this.source;
    if (!source || source.keptChanges === this.savedAt) return this.saving ?? Promise.resolve();
    this.saving ??= (async () => {
      const changes = source.keptChanges;
      try {
        await writeFileDurable(this.file, lines(source));
        this.savedAt = changes;
      } catch (err) {
        this.log.warn('provisioning: kept answers not saved', { file: this.file, err });
      } finally {
        this.saving = undefined;
      }
    })();
    return this.saving;
  }

  /** A last save, then no more. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.saving;
    await this.save();
  }
}

/** The file's text, a thousand records per turn of the loop. */
async function* lines(source: AnswerSource): AsyncIterable<string> {
  let chunk = `${HEADER}\n`;
  let n = 0;
  for (const [, ticket] of source.answers()) {
    chunk += `${JSON.stringify(ticket.record())}\n`;
    if (++n % PER_TURN === 0) {
      yield chunk;
      chunk = '';
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  yield chunk;
}
