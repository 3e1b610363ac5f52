import type { DstRule, TimezoneInfo } from '../../vendors/types.js';

/**
 * IANA zone → standard offset and this year's DST rule, derived from the runtime's tz database (Intl) so any
 * zone works without a hand-kept table. Results are cached per zone; undefined for unknown zones.
 */
const cache = new Map<string, TimezoneInfo | undefined>();
const HOUR = 3_600_000;

function formatterFor(zone: string) {
  return new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
}

function offsetAt(fmt: Intl.DateTimeFormat, t: number): number {
  const part = fmt.formatToParts(t).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(part);
  if (!m) return 0;
  const s = (Number(m[2]) * 3600 + Number(m[3]) * 60) * (m[1] === '-' ? -1 : 1);
  return s;
}

function abbreviation(zone: string, t: number): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'short' })
    .formatToParts(t)
    .find((p) => p.type === 'timeZoneName')?.value;
  return part ?? 'UTC';
}

/** First instant (to the minute) in (a, b] whose offset differs from the offset at a. */
function transition(fmt: Intl.DateTimeFormat, a: number, b: number): number {
  const before = offsetAt(fmt, a);
  while (b - a > 60_000) {
    const mid = Math.floor((a + b) / 2);
    if (offsetAt(fmt, mid) === before) a = mid;
    else b = mid;
  }
  return b;
}

function ruleAt(instant: number, offsetBeforeSeconds: number): DstRule {
  const local = new Date(instant + offsetBeforeSeconds * 1000);
  const day = local.getUTCDate();
  const month = local.getUTCMonth();
  const daysInMonth = new Date(Date.UTC(local.getUTCFullYear(), month + 1, 0)).getUTCDate();
  return {
    month: month + 1,
    week: day + 7 > daysInMonth ? 5 : Math.ceil(day / 7),
    dayOfWeek: local.getUTCDay(),
    hour: local.getUTCHours(),
  };
}

export function timezoneInfo(zone: string | undefined, year = new Date().getUTCFullYear()): TimezoneInfo | undefined {
  if (!zone) return undefined;
  const key = `${zone}|${year}`;
  if (cache.has(key)) return cache.get(key);
  let info: TimezoneInfo | undefined;
  try {
    const fmt = formatterFor(zone);
    const start = Date.UTC(year, 0, 1);
    // Sample every 12 h across the year to find the (usually two) offset changes.
    const changes: number[] = [];
    let prev = offsetAt(fmt, start);
    for (let t = start + 12 * HOUR; t <= Date.UTC(year + 1, 0, 1); t += 12 * HOUR) {
      const cur = offsetAt(fmt, t);
      if (cur !== prev) changes.push(transition(fmt, t - 12 * HOUR, t));
      prev = cur;
    }
    const offsets = [offsetAt(fmt, start), offsetAt(fmt, Date.UTC(year, 6, 1))];
    const standard = Math.min(...offsets);
    const daylight = Math.max(...offsets);
    const stdInstant = offsets[0] === standard ? start : Date.UTC(year, 6, 1);
    info = { name: zone, standardOffsetSeconds: standard, stdAbbr: abbreviation(zone, stdInstant) };
    if (daylight !== standard && changes.length === 2) {
      const into = changes.find((c) => offsetAt(fmt, c) === daylight)!;
      const out = changes.find((c) => offsetAt(fmt, c) === standard)!;
      const dstInstant = offsets[0] === daylight ? start : Date.UTC(year, 6, 1);
      info.dst = {
        offsetSeconds: daylight - standard,
        start: ruleAt(into, standard),
        end: ruleAt(out, daylight),
        stdAbbr: info.stdAbbr,
        dstAbbr: abbreviation(zone, dstInstant),
      };
    }
  } catch {
    info = undefined; // RangeError: not a zone this runtime knows
  }
  cache.set(key, info);
  return info;
}
